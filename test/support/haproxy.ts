// A real HAProxy for the PROXY protocol tests: installed from Debian when missing (as root), started in the
// foreground on a config written to a temporary folder, ready once a given address accepts connections.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { sleep } from './net.js'

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

/** Makes sure `haproxy` is on PATH, installing the Debian package when running as root; throws otherwise. */
export function ensureHaproxy (): void {
  if (has('haproxy')) return
  if (process.getuid?.() === 0 && has('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const args = ['install', '-y', '-qq', '--no-install-recommends', 'haproxy']
    const install = (): number | null => spawnSync('apt-get', args, { stdio: 'ignore', env }).status
    if (install() !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
      install()
    }
  }
  if (!has('haproxy')) throw new Error('these tests need HAProxy (Debian: apt-get install haproxy)')
}

/** A TCP port that was free a moment ago (HAProxy binds need a real port). */
export async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

async function accepts (target: net.NetConnectOpts): Promise<boolean> {
  return await new Promise((resolve) => {
    const c = net.connect(target)
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => resolve(false))
  })
}

export interface Haproxy { child: ChildProcess, output: () => string, stop: () => Promise<void> }

/** Starts `cmd args` in the foreground and waits until `ready` accepts a connection (10 s at most). */
export async function startPeer (
  name: string, cmd: string, args: string[], ready: net.NetConnectOpts
): Promise<Haproxy> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  for (let i = 0; i < 200; i++) {
    if (await accepts(ready)) return { child, output: () => out, stop }
    if (child.exitCode !== null) break
    await sleep(50)
  }
  await stop()
  throw new Error(`${name} did not start:\n${out}`)
}

/** Starts `haproxy -db -f <config>` and waits until `ready` accepts a connection (10 s at most). */
export async function startHaproxy (dir: string, config: string, ready: net.NetConnectOpts): Promise<Haproxy> {
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, config)
  const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`haproxy refused the config:\n${check.stdout}${check.stderr}`)
  return await startPeer('haproxy', 'haproxy', ['-db', '-f', file], ready)
}
