// The tools a tunnel replaces, as real peers: the operator configurations committed in extra/tunnel/ loaded as
// templates (each substitution must find its text, so the docs cannot drift from what is tested), combined PEM
// files for HAProxy, and stunnel4 started in the foreground. HAProxy itself is started by ./haproxy.ts.
import { spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { startPeer } from './haproxy.js'
import type { TestCert } from './pki.js'

export const EXTRA_TUNNEL = fileURLToPath(new URL('../../extra/tunnel/', import.meta.url))

/** The text of extra/tunnel/`file` with every [from, to] replaced; throws when a `from` is not in the file. */
export function fromTemplate (file: string, subs: Array<[string, string]>): string {
  let text = readFileSync(join(EXTRA_TUNNEL, file), 'utf8')
  for (const [from, to] of subs) {
    if (!text.includes(from)) throw new Error(`extra/tunnel/${file} no longer contains ${JSON.stringify(from)}`)
    text = text.split(from).join(to)
  }
  return text
}

/** One `tunnels:` entry of a committed YAML file, after the substitutions. */
export function tunnelFromTemplate (
  file: string, name: string, subs: Array<[string, string]>
): Record<string, unknown> {
  const doc = parse(fromTemplate(file, subs)) as { tunnels?: Array<Record<string, unknown>> }
  const entry = doc.tunnels?.find((t) => t.name === name)
  if (entry === undefined) throw new Error(`extra/tunnel/${file} has no tunnel named ${name}`)
  return entry
}

/** Writes `cert`'s chain and key into one PEM file (HAProxy's `crt`), mode 0600; returns its path. */
export function combinedPem (dir: string, cert: TestCert): string {
  const path = join(dir, `${cert.name}-combined.pem`)
  writeFileSync(path, cert.chainPem + cert.keyPem, { mode: 0o600 })
  return path
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

/** Makes sure `stunnel4` is on PATH (installed from Debian as root when missing); throws otherwise. */
export function ensureStunnel (): void {
  if (has('stunnel4')) return
  if (process.getuid?.() === 0 && has('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'stunnel4'], { stdio: 'ignore', env })
  }
  if (!has('stunnel4')) throw new Error('these tests need stunnel (Debian: apt-get install stunnel4)')
}

export interface Peer { child: ChildProcess, output: () => string, stop: () => Promise<void> }

/** Starts `stunnel4 <dir>/<name>.conf` (the config must say `foreground = yes`) and waits until `ready` accepts. */
export async function startStunnel (
  dir: string, name: string, config: string, ready: net.NetConnectOpts
): Promise<Peer> {
  const file = join(dir, `${name}.conf`)
  writeFileSync(file, config)
  return await startPeer('stunnel', 'stunnel4', [file], ready)
}
