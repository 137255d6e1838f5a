// The load generator: `wrk` (C, epoll, far cheaper per request than the servers it drives) with a client
// certificate from the LD_PRELOAD shim in wrk-cert-shim.c (compiled into .cache/ on first use), a generated Lua
// script per scenario (method, headers, body, or a rotation of pregenerated requests) whose done() prints one line
// of figures, and the shim's count of handshakes and resumed sessions.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './procs.js'

const SHIM_SOURCE = join(REPO_ROOT, 'bench', 'wrk-cert-shim.c')
export const CACHE_DIR = join(REPO_ROOT, '.cache')

/** Compiles the shim when missing or older than its source; returns the .so path. */
export function buildShim (out = join(CACHE_DIR, 'wrk-cert-shim.so')): string {
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(SHIM_SOURCE).mtimeMs) return out
  mkdirSync(CACHE_DIR, { recursive: true })
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, SHIM_SOURCE, '-ldl', '-lssl', '-lcrypto'], { stdio: 'pipe' })
  return out
}

export interface WrkRequest { method: string, path: string, headers: Record<string, string>, body?: string }

const lua = (s: string): string => JSON.stringify(s) // a JSON string literal is a valid Lua string literal here

function luaHeaders (h: Record<string, string>): string {
  return `{ ${Object.entries(h).map(([k, v]) => `[${lua(k)}] = ${lua(v)}`).join(', ')} }`
}

const DONE = `
done = function (s, latency, requests)
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %.0f %.0f\\n", s.requests, s.duration,
    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

/** A wrk script sending `requests` in turn (one: a fixed request; many: request k goes out k-th, wrapping around). */
export function wrkScript (requests: WrkRequest[]): string {
  if (requests.length === 0) throw new Error('a wrk script needs at least one request')
  const items = requests.map((r) =>
    `    wrk.format(${lua(r.method)}, ${lua(r.path)}, ${luaHeaders(r.headers)}, ${r.body === undefined ? 'nil' : lua(r.body)})`)
  // formatted in init(): only then does wrk.headers hold the Host header wrk.format copies in
  return `local reqs = {}
init = function (args)
  reqs = {
${items.join(',\n')}
  }
end
-- wrk calls request() once before the first request it sends, and drops that one: start so that the k-th request
-- sent is reqs[k], in step with the shim's k-th handshake
local i = -1
request = function ()
  i = i % #reqs + 1
  return reqs[i]
end
${DONE}`
}

export interface WrkResult {
  requests: number
  seconds: number
  /** Socket-level failures (connect, read, write, timeout) and answers with a status ≥ 400. */
  socketErrors: number
  statusErrors: number
  p50Ms: number
  p99Ms: number
  /** From the shim: completed TLS handshakes and how many of them resumed a session (NaN for plain HTTP). */
  handshakes: number
  resumed: number
}

/** Parses wrk's output: the WRK_RESULT line of the script's done() and, when written, the shim's stats file. */
export function parseWrk (stdout: string, stats?: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '))
  if (line === undefined) throw new Error(`wrk printed no result:\n${stdout.slice(-1500)}`)
  const [requests, durationUs, connect, read, write, status, timeout, p50, p99] = line.split(' ').slice(1).map(Number) as number[]
  const stat = (name: string): number => Number(stats?.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1] ?? NaN)
  return {
    requests: requests ?? 0,
    seconds: (durationUs ?? 0) / 1e6,
    socketErrors: (connect ?? 0) + (read ?? 0) + (write ?? 0) + (timeout ?? 0),
    statusErrors: status ?? 0,
    p50Ms: (p50 ?? NaN) / 1000,
    p99Ms: (p99 ?? NaN) / 1000,
    handshakes: stat('handshakes'),
    resumed: stat('resumed')
  }
}

export interface WrkRun {
  url: string
  script: string
  connections: number
  threads: number
  seconds: number
  /** Client identity for TLS targets; `list` rotates identities per handshake. */
  tls?: { cert: string, key: string, list?: string, noResume?: boolean }
  shim: string
  dir: string
}

/** Runs wrk once; resolves with its figures. The CPU wrk used is charged to this process's reaped children. */
export async function runWrk (o: WrkRun): Promise<WrkResult> {
  const tag = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
  const scriptPath = join(o.dir, `wrk-${tag}.lua`)
  const statsPath = join(o.dir, `wrk-${tag}.stats`)
  writeFileSync(scriptPath, o.script)
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' }
  if (o.tls !== undefined) {
    Object.assign(env, {
      LD_PRELOAD: o.shim, WRK_CLIENT_CERT: o.tls.cert, WRK_CLIENT_KEY: o.tls.key, WRK_TLS_STATS: statsPath
    })
    if (o.tls.list !== undefined) env.WRK_CLIENT_LIST = o.tls.list
    if (o.tls.noResume === true) env.WRK_NO_RESUME = '1'
  }
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', scriptPath, o.url]
  type Ended = { stdout: string, stderr: string, code: number | null }
  const { stdout, stderr, code } = await new Promise<Ended>((resolve, reject) => {
    const child = spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.once('error', reject)
    child.once('close', (c) => resolve({ stdout: out, stderr: err, code: c }))
  })
  try {
    if (code !== 0) throw new Error(`wrk exited with ${String(code)}:\n${stderr.slice(-1500)}${stdout.slice(-500)}`)
    return parseWrk(stdout, existsSync(statsPath) ? readFileSync(statsPath, 'utf8') : undefined)
  } finally {
    rmSync(scriptPath, { force: true })
    rmSync(statsPath, { force: true })
  }
}
