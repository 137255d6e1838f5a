// Runs once before the test files: installs the Debian packages the suites drive as real processes when missing
// (scripts/test-deps.sh: go for the decoding oracle, haproxy, stunnel4, dbus, systemd tools …; as root), makes sure the
// real Mender client binaries are present (scripts/fetch-real-client.sh); fails the run if either cannot be had.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { missingRealClientBinaries } from './real-client.js'
import { hasGo } from './go-oracle.js'

const FETCH_SCRIPT = fileURLToPath(new URL('../../scripts/fetch-real-client.sh', import.meta.url))
const DEPS_SCRIPT = fileURLToPath(new URL('../../scripts/test-deps.sh', import.meta.url))

/** Installs what is missing (root + apt-get), or fails naming the packages. */
export function ensureSystemTools (): void {
  const run = spawnSync('bash', [DEPS_SCRIPT], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`the tests need Debian packages: ${run.stderr.trim()}`)
}

function hasDbusDaemon (): boolean {
  return spawnSync('sh', ['-c', 'command -v dbus-daemon'], { stdio: 'ignore' }).status === 0
}

function ensureRealClient (): void {
  if (missingRealClientBinaries().length === 0 && hasDbusDaemon()) return
  const run = spawnSync('bash', [FETCH_SCRIPT], { stdio: 'inherit' })
  const missing = missingRealClientBinaries()
  if (!hasDbusDaemon()) missing.push('dbus-daemon')
  if (run.status !== 0 || missing.length > 0) {
    throw new Error(`the e2e tests need the real Mender client: ${FETCH_SCRIPT} exited with ${String(run.status)} ` +
      `and these are still missing: ${missing.join(', ') || 'none'}`)
  }
}

export default async function setup (): Promise<void> {
  ensureSystemTools()
  if (!hasGo()) throw new Error('the decoding oracle tests need a Go toolchain on PATH (Debian: apt-get install golang-go)')
  ensureRealClient()
}
