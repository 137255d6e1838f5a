// HAProxy as the reference mTLS terminator: found on PATH (installed from Debian's package when missing and root),
// its configuration written into the run's folder, started in the foreground and checked to refuse certless clients.
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort, startChild, type Child } from './procs.js'

function run (command: string, args: string[]): { ok: boolean, out: string } {
  const res = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return { ok: res.status === 0, out: `${res.stdout ?? ''}${res.stderr ?? ''}` }
}

/** HAProxy's version line, or undefined when the binary is not there. */
export function haproxyVersion (): string | undefined {
  const res = run('haproxy', ['-v'])
  return res.ok ? res.out.split('\n')[0]?.replace(/ - https?:\S+/, '').trim() : undefined
}

/** Makes sure HAProxy is installed (apt-get as root; `apt-get update` only when the first try fails). */
export function ensureHaproxy (log: (line: string) => void): string | undefined {
  const found = haproxyVersion()
  if (found !== undefined) return found
  if (process.getuid?.() !== 0) {
    log('haproxy is not installed and this is not root: skipping the HAProxy target')
    return undefined
  }
  log('installing haproxy (apt-get install -y haproxy)')
  if (!run('apt-get', ['install', '-y', 'haproxy']).ok) {
    run('apt-get', ['update'])
    const second = run('apt-get', ['install', '-y', 'haproxy'])
    if (!second.ok) log(`apt-get install haproxy failed:\n${second.out.slice(-1000)}`)
  }
  return haproxyVersion()
}

export interface HaproxyOptions {
  dir: string
  /** Server certificate chain and its key, concatenated (HAProxy's `crt` file). */
  certAndKeyPem: string
  tenantCaPath: string
  backendPort: number
  threads: number
  /** Connections at once (HAProxy needs about two descriptors each under the open-file limit). */
  maxconn?: number
  /** Called with the child as soon as it is spawned (so the caller stops it whatever happens next). */
  onChild: (child: Child) => void
}

export function haproxyConfig (port: number, crtPath: string, o: HaproxyOptions): string {
  return `global
  nbthread ${o.threads}
  maxconn ${o.maxconn ?? 4096}
  log stdout format raw local0 info
  ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
  mode http
  log global
  option httplog
  option forwardfor
  timeout connect 5s
  timeout client 65s
  timeout server 30s
  maxconn ${o.maxconn ?? 4096}
  # the idle-connection scenario holds connections that never send a request (the other targets get the same)
  timeout http-request 3600s
  timeout http-keep-alive 65s

frontend devices
  bind 127.0.0.1:${port} ssl crt ${crtPath} ca-file ${o.tenantCaPath} verify required
  default_backend mender

backend mender
  server simulator 127.0.0.1:${o.backendPort}
`
}

async function portOpen (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Writes the configuration, validates it (`haproxy -c`), starts `haproxy -db` and waits until it accepts. */
export async function startHaproxy (o: HaproxyOptions): Promise<{ child: Child, port: number }> {
  const port = await freePort()
  const crtPath = join(o.dir, 'haproxy-server.pem')
  const cfgPath = join(o.dir, 'haproxy.cfg')
  await writeFile(crtPath, o.certAndKeyPem, { mode: 0o600 })
  await writeFile(cfgPath, haproxyConfig(port, crtPath, o))
  const check = run('haproxy', ['-c', '-f', cfgPath])
  if (!check.ok) throw new Error(`haproxy rejected its configuration:\n${check.out}`)
  const child = startChild('haproxy', 'haproxy', ['-db', '-f', cfgPath], {}, join(o.dir, 'haproxy.log'))
  o.onChild(child)
  const end = Date.now() + 10_000
  while (Date.now() < end) {
    if (child.proc.exitCode !== null) throw new Error(`haproxy exited at start:\n${(await readFile(child.logPath, 'utf8')).slice(-2000)}`)
    if (await portOpen(port)) return { child, port }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('haproxy did not start listening within 10 s')
}
