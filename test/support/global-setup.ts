// Runs once before the test files: makes sure the real Mender client binaries (and dbus-daemon) the e2e suites
// need are present, fetching them with scripts/fetch-real-client.sh when missing, and that `go` is there for the
// decoding oracle (test/support/go-decoder); fails the run if either cannot be had.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { missingRealClientBinaries } from './real-client.js'
import { hasGo } from './go-oracle.js'

const FETCH_SCRIPT = fileURLToPath(new URL('../../scripts/fetch-real-client.sh', import.meta.url))

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

function ensureGo (): void {
  if (!hasGo()) throw new Error('the decoding oracle tests need a Go toolchain on PATH (Debian: apt-get install golang-go)')
}

export default async function setup (): Promise<void> {
  ensureGo()
  ensureRealClient()
}
