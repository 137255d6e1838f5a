// Child processes of the benchmark: the simulator and the gateway (built `dist/` when current, else the sources
// via tsx), their output captured in files, waiting for their ready lines, free loopback ports, and stopping.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface Child { name: string, proc: ChildProcess, logPath: string, exited: Promise<number | null> }

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

/** The command line of `mtls-ambassador`: `dist/cli.js` when built and newer than every source, else tsx. */
export function cliCommand (): { args: string[], from: 'dist' | 'src' } {
  const dist = join(REPO_ROOT, 'dist', 'cli.js')
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestMtime(join(REPO_ROOT, 'src'))) {
    return { args: [dist], from: 'dist' }
  }
  return { args: ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts')], from: 'src' }
}

/** Starts `command args` with stdout and stderr written to `logPath`. */
export function startChild (
  name: string, command: string, args: string[], env: Record<string, string>, logPath: string
): Child {
  const fd = openSync(logPath, 'a')
  const proc = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', fd, fd]
  })
  closeSync(fd)
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => resolve(code))
    proc.on('error', () => resolve(-1))
  })
  return { name, proc, logPath, exited }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Polls the child's log until `pattern` matches; returns the match. Throws if the child exits or time runs out. */
export async function waitForLine (child: Child, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    const text = readFileSync(child.logPath, 'utf8')
    const match = text.match(pattern)
    if (match !== null) return match
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${child.name} exited before it was ready:\n${text.slice(-2000)}`)
    }
    await sleep(50)
  }
  throw new Error(`${child.name} not ready after ${timeoutMs} ms:\n${readFileSync(child.logPath, 'utf8').slice(-2000)}`)
}

/** A loopback port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild (child: Child, graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return
  child.proc.kill('SIGTERM')
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
}

/** Starts the Mender simulator (plain HTTP, loopback, any free port); resolves with its URL. */
export async function startSimulatorProcess (dir: string): Promise<{ child: Child, url: string }> {
  const cli = cliCommand()
  const child = startChild('simulator', process.execPath, [...cli.args, 'sim', '--host', '127.0.0.1', '--port', '0'], {}, join(dir, 'simulator.log'))
  const match = await waitForLine(child, /Mender simulator listening on (\S+)/)
  return { child, url: match[1] ?? '' }
}

/** Settings of the bench's gateways: no per-IP, total or auth-rate limits (one client address drives them all). */
export const GATEWAY_BENCH_ENV = {
  MTLS_MAX_CONNECTIONS: '0',
  MTLS_MAX_CONNECTIONS_PER_IP: '0',
  MTLS_AUTH_RATE_LIMIT: '0',
  // idle connections that never send a request must outlive the idle-connection scenario (the others get the same)
  MTLS_HEADERS_TIMEOUT: '3600000',
  MTLS_REQUEST_TIMEOUT: '3600000'
}

export interface GatewayFiles { serverCert: string, serverKey: string, tenantCa: string }

/**
 * Starts the gateway (mTLS on a loopback port, status listener off, info logs: an access line per request, to its
 * log file) in front of `backendUrl`; `env` adds to or overrides its settings.
 */
export async function startGatewayProcess (
  dir: string, backendUrl: string, files: GatewayFiles, user: { email: string, password: string },
  o: { nodeArgs?: string[], env?: Record<string, string>, name?: string } = {}
): Promise<{ child: Child, port: number }> {
  const cli = cliCommand()
  const env = {
    MTLS_LISTEN: '127.0.0.1:0',
    MTLS_STATUS_LISTEN: 'off',
    MTLS_MENDER_BACKEND: backendUrl,
    MTLS_MENDER_USER: user.email,
    MTLS_MENDER_PASS: user.password,
    MTLS_SERVER_CERT: files.serverCert,
    MTLS_SERVER_KEY: files.serverKey,
    MTLS_TENANT_CA_PEM: files.tenantCa,
    MTLS_LOG_LEVEL: 'info',
    ...o.env
  }
  const name = o.name ?? 'gateway'
  const child = startChild(name, process.execPath, [...(o.nodeArgs ?? []), ...cli.args, 'serve'], env, join(dir, `${name}.log`))
  const match = await waitForLine(child, /"event":"listening".*?"url":"https:\/\/127\.0\.0\.1:(\d+)"/)
  return { child, port: Number(match[1]) }
}
