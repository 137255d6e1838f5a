// The load generator: concurrent workers over keep-alive connections (undici) or one fresh connection per request
// (raw TCP/TLS, full handshake, `Connection: close`), bounded in time and count, giving req/s, median and p99.
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type SecureContext } from 'node:tls'
import { Agent, request } from 'undici'
import { processCpuMs } from './procs.js'

export interface Target {
  name: string
  /** Base URL: `http://127.0.0.1:port` or `https://localhost:port`. */
  url: string
  port: number
  /** The process that serves it (the proxy; the simulator for direct), for CPU accounting. */
  pid?: number
  /** Client TLS (device certificate, CA); absent for plain HTTP. */
  tls?: { ca: string, cert: string, key: string, context: SecureContext }
}

export interface LoadOptions {
  concurrency: number
  warmupMs: number
  durationMs: number
  maxRequests: number
  path: string
  headers: Record<string, string>
  aborted: () => boolean
}

/** `requests` were measured (after warm-up); `total` completed in all, warm-up included (CPU is divided by it). */
export interface Sample {
  requests: number
  total: number
  errors: number
  rps: number
  p50: number
  p99: number
  firstError?: string
  /** CPU time per request of the serving process (proxy, or simulator for direct) and of this load generator. */
  serverCpuUs?: number
  clientCpuUs?: number
}

const now = (): number => performance.now()

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN
}

/** Runs `concurrency` workers calling `once` (which resolves with its latency in ms) until time or count runs out. */
async function drive (o: LoadOptions, once: () => Promise<number>): Promise<Sample> {
  const start = now()
  const measureFrom = start + o.warmupMs
  const end = measureFrom + o.durationMs
  const latencies: number[] = []
  let errors = 0
  let total = 0
  let last = measureFrom
  let firstError: string | undefined
  const worker = async (): Promise<void> => {
    while (now() < end && latencies.length < o.maxRequests && errors < 1000 && !o.aborted()) {
      const began = now()
      try {
        const ms = await once()
        total++
        if (began >= measureFrom) { latencies.push(ms); last = Math.max(last, now()) }
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  const sorted = Float64Array.from(latencies).sort()
  const seconds = Math.max(last - measureFrom, 1) / 1000
  const sample: Sample = {
    requests: sorted.length,
    total,
    errors,
    rps: sorted.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99)
  }
  if (firstError !== undefined) sample.firstError = firstError
  return sample
}

/** Keep-alive scenario: `concurrency` persistent connections, one request in flight on each. */
export async function keepAlive (target: Target, o: LoadOptions): Promise<Sample> {
  const agent = new Agent({
    connections: o.concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    connect: target.tls === undefined ? {} : { ca: target.tls.ca, cert: target.tls.cert, key: target.tls.key, servername: 'localhost' }
  })
  const url = target.url + o.path
  try {
    return await drive(o, async () => {
      const began = now()
      const res = await request(url, { dispatcher: agent, headers: o.headers })
      await res.body.dump()
      if (res.statusCode !== 204) throw new Error(`status ${res.statusCode}`)
      return now() - began
    })
  } finally {
    await agent.destroy()
  }
}

/** Runs a scenario and adds the CPU time per request of the serving process and of this process. */
export async function withCpu (
  run: (t: Target, o: LoadOptions) => Promise<Sample>, t: Target, o: LoadOptions
): Promise<Sample> {
  const server = t.pid === undefined ? NaN : processCpuMs(t.pid)
  const client = process.cpuUsage()
  const sample = await run(t, o)
  const clientUsage = process.cpuUsage(client)
  const per = Math.max(sample.total, 1)
  sample.serverCpuUs = t.pid === undefined ? NaN : (processCpuMs(t.pid) - server) * 1000 / per
  sample.clientCpuUs = (clientUsage.user + clientUsage.system) / per
  return sample
}

/** One request on a fresh connection (full TLS handshake when the target is TLS); resolves with its latency. */
function oneShot (target: Target, payload: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = now()
    let head = ''
    let latency = NaN
    const socket: Socket = target.tls === undefined
      ? tcpConnect({ host: '127.0.0.1', port: target.port })
      : tlsConnect({ host: '127.0.0.1', port: target.port, servername: 'localhost', secureContext: target.tls.context })
    socket.once(target.tls === undefined ? 'connect' : 'secureConnect', () => socket.write(payload))
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')))
    socket.on('data', (chunk: Buffer) => {
      if (!Number.isNaN(latency)) return
      head += chunk.toString('latin1')
      if (head.includes('\r\n\r\n')) latency = now() - began
    })
    socket.on('error', reject)
    // the server closes after answering (`Connection: close`), so the TIME_WAIT state stays on its side
    socket.on('close', () => {
      if (head.startsWith('HTTP/1.1 204')) resolve(latency)
      else reject(new Error(`unexpected answer: ${JSON.stringify(head.slice(0, 40))}`))
    })
  })
}

/** New-connection scenario: every request opens its own connection and the server closes it after answering. */
export async function newConnections (target: Target, o: LoadOptions): Promise<Sample> {
  const host = target.tls === undefined ? `127.0.0.1:${target.port}` : `localhost:${target.port}`
  const headers = Object.entries(o.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  const payload = `GET ${o.path} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`
  return await drive(o, async () => await oneShot(target, payload))
}

/** The TLS version and cipher a fresh connection to the target negotiates (for the report). */
export async function negotiated (target: Target): Promise<string> {
  if (target.tls === undefined) return 'plain TCP'
  const tls = target.tls
  return await new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: target.port, servername: 'localhost', secureContext: tls.context })
    socket.once('secureConnect', () => {
      resolve(`${socket.getProtocol() ?? '?'} ${socket.getCipher().name}`)
      socket.destroy()
    })
    socket.once('error', (err) => resolve(`error: ${err.message}`))
  })
}
