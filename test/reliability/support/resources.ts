// The gateway as the operator runs it, for the reliability scenarios: `node dist/cli.js serve` in a child process
// (optionally under `prlimit --nofile=N:N`), configured by MTLS_* environment variables, its JSON log parsed line by
// line; and its resources as the kernel and its metrics report them: RSS (/proc/<pid>/status VmRSS), open file
// descriptors (/proc/<pid>/fd) and open connections and websockets (/metrics on the status listener).
// MTLS_TEST_WORKERS=N runs every scenario's process with N workers; its resources are then the primary's and every
// worker's together.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { TEST_USER } from '../../support/gateway.js'
import { metricValue } from '../../support/metrics.js'
import { REPO_ROOT } from '../../support/process.js'
import type { TestPki } from '../../support/pki.js'

export interface LogLine { level?: number | string, code?: string, event?: string, msg?: string, [k: string]: unknown }

export interface Resources {
  rssKb: number
  fds: number
  /** Of those, TCP connections to the backend (the upstream keep-alive pool, reused and closed by its own timer). */
  upstreamFds: number
  /** Of those, connections to the status listener (the scenario's own /metrics reads). */
  statusFds: number
  /** mtls_open_connections: admitted TLS connections. */
  openConnections: number
  openWebsockets: number
}

export interface GatewayProcess {
  child: ChildProcess
  pid: number
  /** https://localhost:<port> (the server certificate names localhost); '' when only tunnels run. */
  url: string
  port: number
  /** Every listener by name (`gateway`, each tunnel's name), as the `listening` log line gives them. */
  addresses: Record<string, string>
  statusUrl: string
  lines: LogLine[]
  withCode: (code: string) => LogLine[]
  stderr: () => string
  alive: () => boolean
  sample: () => Promise<Resources>
  /** Waits for a log line matching `predicate`. */
  waitFor: (predicate: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop: (graceMs?: number) => Promise<number | null>
  exited: Promise<number | null>
}

export interface GatewayProcessOptions {
  pki: TestPki
  backendUrl: string
  /** More MTLS_* variables (they win over the defaults). */
  env?: Record<string, string>
  /** Run under `prlimit --nofile=N:N` (soft and hard limit of open files). */
  nofile?: number
}

/** Worker processes of every scenario's gateway (MTLS_TEST_WORKERS; 1 = a single process, the default). */
export const TEST_WORKERS = Math.max(1, Number(process.env.MTLS_TEST_WORKERS ?? 1) || 1)

/** The defaults a scenario starts from: loopback port 0, the test PKI, no rate limit, no lag shedding (noisy CI). */
export function gatewayEnv (o: GatewayProcessOptions): Record<string, string> {
  return {
    ...(TEST_WORKERS > 1 ? { MTLS_WORKERS: String(TEST_WORKERS) } : {}),
    MTLS_LISTEN: '127.0.0.1:0',
    MTLS_STATUS_LISTEN: '127.0.0.1:0',
    MTLS_MENDER_BACKEND: o.backendUrl,
    MTLS_MENDER_USER: TEST_USER.email,
    MTLS_MENDER_PASS: TEST_USER.password,
    MTLS_SERVER_CERT: o.pki.server.chainPath,
    MTLS_SERVER_KEY: o.pki.server.keyPath,
    MTLS_TENANT_CA_PEM: o.pki.trust.path,
    MTLS_AUTH_RATE_LIMIT: '0',
    MTLS_MAX_EVENT_LOOP_DELAY: '0',
    MTLS_SHUTDOWN_TIMEOUT: '2000',
    MTLS_LOG_LEVEL: 'info',
    ...o.env
  }
}

/** Socket inodes of TCP connections (not listeners) matching `pick(localPort, remotePort)`, from /proc/net/tcp{,6}. */
function tcpInodes (pick: (local: number, remote: number) => boolean): Set<string> {
  const out = new Set<string>()
  const port = (addr: string | undefined): number => parseInt(addr?.slice(addr.lastIndexOf(':') + 1) ?? '', 16)
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      const remote = port(cols[2])
      if (remote !== 0 && pick(port(cols[1]), remote)) out.add(cols[9] ?? '')
    }
  }
  return out
}

/**
 * VmRSS of a process in kB, its open file descriptors, and how many of them are connections to `upstreamPort` (the
 * keep-alive pool towards Mender) or to its own `statusPort` (the scenario reading /metrics).
 */
export function processResources (pid: number, upstreamPort?: number, statusPort?: number):
Omit<Resources, 'openConnections' | 'openWebsockets'> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  const fds = readdirSync(`/proc/${pid}/fd`)
  const upstream = tcpInodes((_local, remote) => remote === upstreamPort)
  const scraping = tcpInodes((local) => local === statusPort)
  let upstreamFds = 0
  let statusFds = 0
  for (const fd of fds) {
    let link = ''
    try { link = readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1] ?? '-'
    if (upstream.has(inode)) upstreamFds++
    if (scraping.has(inode)) statusFds++
  }
  return { rssKb: Number(rss ?? NaN), fds: fds.length, upstreamFds, statusFds }
}

/** A process and its children (a cluster's primary and its workers). */
function processTree (pid: number): number[] {
  let children: number[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number)
  } catch { /* gone, or no children */ }
  return [pid, ...children]
}

/** processResources of a process and its workers, added up (a worker that just exited counts for nothing). */
export function treeResources (pid: number, upstreamPort?: number, statusPort?: number):
Omit<Resources, 'openConnections' | 'openWebsockets'> {
  const total = { rssKb: 0, fds: 0, upstreamFds: 0, statusFds: 0 }
  for (const p of processTree(pid)) {
    let r: Omit<Resources, 'openConnections' | 'openWebsockets'>
    try { r = processResources(p, upstreamPort, statusPort) } catch { if (p === pid) throw new Error(`process ${pid} is gone`); continue }
    total.rssKb += r.rssKb
    total.fds += r.fds
    total.upstreamFds += r.upstreamFds
    total.statusFds += r.statusFds
  }
  return total
}

function lineReader (onLine: (line: LogLine) => void): (chunk: Buffer) => void {
  let rest = ''
  return (chunk) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    for (const p of parts) {
      try { onLine(JSON.parse(p) as LogLine) } catch { /* not a log line */ }
    }
  }
}

/**
 * Starts the process (`serve`: the gateway, and the tunnels MTLS_TUNNELS configures) and resolves once it listens
 * (rejects with its output when it exits first). For a tunnel-only process give `backendUrl: ''` and set
 * MTLS_MENDER_BACKEND to '' in `env`.
 */
export async function startGatewayProcess (o: GatewayProcessOptions): Promise<GatewayProcess> {
  const node = [process.execPath, join(REPO_ROOT, 'dist', 'cli.js'), 'serve']
  const argv = o.nofile === undefined ? node : ['prlimit', `--nofile=${o.nofile}:${o.nofile}`, '--', ...node]
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...gatewayEnv(o) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: LogLine[] = []
  const waiters = new Set<() => void>()
  let err = ''
  child.stdout?.on('data', lineReader((l) => { lines.push(l); for (const w of waiters) w() }))
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const w of waiters) w()
    resolve(code)
  }))
  const waitFor: GatewayProcess['waitFor'] = async (predicate, timeoutMs = 20_000) =>
    await new Promise((resolve, reject) => {
      let from = 0
      const check = (): void => {
        for (; from < lines.length; from++) {
          const l = lines[from] as LogLine
          if (predicate(l)) { finish(); resolve(l); return }
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          finish()
          reject(new Error(`gateway exited (${String(child.exitCode ?? child.signalCode)}): ${err}`))
        }
      }
      const finish = (): void => { clearTimeout(timer); waiters.delete(check) }
      const timer = setTimeout(() => { finish(); reject(new Error(`timed out waiting for a log line; stderr: ${err}`)) }, timeoutMs)
      waiters.add(check)
      check()
    })
  const listening = await waitFor((l) => l.event === 'listening', 30_000)
  // a process running only tunnels has no gateway URL: url '' and port 0, its listeners in `addresses`
  const url = typeof listening.url === 'string' ? listening.url.replace('127.0.0.1', 'localhost') : ''
  const statusUrl = String(listening.statusUrl)
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  const pid = child.pid as number
  const upstreamPort = o.backendUrl === '' ? undefined : Number(new URL(o.backendUrl).port) || undefined
  const statusPort = Number(new URL(statusUrl).port)
  return {
    child,
    pid,
    url,
    port: url === '' ? 0 : Number(new URL(url).port),
    addresses: (listening.addresses ?? {}) as Record<string, string>,
    statusUrl,
    lines,
    withCode: (code) => lines.filter((l) => l.code === code),
    stderr: () => err,
    alive,
    waitFor,
    exited,
    sample: async () => ({
      ...treeResources(pid, upstreamPort, statusPort),
      openConnections: await metricValue(statusUrl, 'mtls_open_connections') ?? NaN,
      openWebsockets: await metricValue(statusUrl, 'mtls_open_websockets') ?? NaN
    }),
    stop: async (graceMs = 10_000) => {
      if (!alive()) return await exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}

/** Log lines at error or fatal level (an unexpected error, an unhandled rejection, a forced stop), for assertions. */
export function seriousLogs (gw: GatewayProcess): LogLine[] {
  return gw.lines.filter((l) => l.level === 'error' || l.level === 'fatal' || (typeof l.level === 'number' && l.level >= 50))
}

/** File descriptors besides the upstream pool and the metrics reads: device connections, listeners, files. */
export const ownFds = (r: Resources): number => r.fds - r.upstreamFds - r.statusFds

/**
 * Waits (bounded) until the gateway is back at its baseline: open connections and websockets equal to it, fds (the
 * upstream pool aside) within `fdSlack` of it. Resolves with the last sample, whether or not it got there (the caller
 * asserts).
 */
export async function settled (
  gw: GatewayProcess, baseline: Resources, fdSlack = 2, timeoutMs = 20_000
): Promise<Resources> {
  const end = Date.now() + timeoutMs
  let now = await gw.sample()
  while (Date.now() < end) {
    if (now.openConnections === baseline.openConnections && now.openWebsockets === baseline.openWebsockets &&
      ownFds(now) <= ownFds(baseline) + fdSlack) return now
    await new Promise((resolve) => setTimeout(resolve, 200))
    now = await gw.sample()
  }
  return now
}
