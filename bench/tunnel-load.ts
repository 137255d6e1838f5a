// Load for the tunnel benchmark: the target (counts what it receives, answers a half-close with a short ack and
// its own end), one bulk transfer through a pair, and fresh connections in a loop — plain TCP into the forward
// proxy, or mTLS straight to the reverse proxy with a full handshake each time (no session resumption).
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, type SecureContext } from 'node:tls'
import { sampleTree } from './cpu.js'

export interface Sink { port: number, server: Server, close: () => Promise<void> }

/** The target: reads everything; on the client's end writes `ok` and ends (so every exchange proves half-close). */
export async function startSink (): Promise<Sink> {
  const open = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (s) => {
    open.add(s)
    s.on('close', () => open.delete(s))
    s.on('error', () => {})
    s.on('data', () => {})
    s.on('end', () => s.end('ok'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const close = async (): Promise<void> => {
    for (const s of open) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
  return { port, server, close }
}

/** Resolves once `s` has ended after an `ok`; rejects when it closes without one, or errors. */
async function answered (s: Socket): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let got = ''
    s.on('data', (d: Buffer) => { got += d.toString() })
    s.once('end', () => { if (got === 'ok') resolve(); else reject(new Error(`answer ${JSON.stringify(got)}`)) })
    s.once('error', reject)
    s.once('close', () => reject(new Error('closed without an answer')))
  })
}

const cpuOf = (pids: number[]): number => pids.reduce((sum, pid) => sum + sampleTree(pid).cpuMs, 0)

export interface BulkSample { mibPerS: number, cpuMsPerMib: number }

/** Sends `bytes` through `port` (64 KiB writes, back-pressure respected), then ends and waits for the ack. */
export async function bulk (port: number, bytes: number, pids: number[]): Promise<BulkSample> {
  const chunk = Buffer.alloc(65536, 0x5a)
  const s = tcpConnect({ host: '127.0.0.1', port, allowHalfOpen: true })
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  const done = answered(s)
  const [cpu0, t0] = [cpuOf(pids), process.hrtime.bigint()]
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!s.write(chunk)) await new Promise((resolve) => s.once('drain', resolve))
  }
  s.end()
  await done
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  s.destroy()
  const mib = bytes / (1024 * 1024)
  return { mibPerS: mib / seconds, cpuMsPerMib: pids.length === 0 ? NaN : (cpuOf(pids) - cpu0) / mib }
}

export interface ConnSample { perSecond: number, serverCpuUs: number, clientCpuUs: number, errors: number }

export interface ConnTarget {
  port: number
  /** mTLS straight to the reverse proxy, with this client context; plain TCP when absent. */
  tls?: { context: SecureContext, servername: string }
  /** Processes whose CPU time is charged per connection. */
  pids: number[]
}

async function oneConnection (t: ConnTarget): Promise<void> {
  const s = t.tls === undefined
    ? tcpConnect({ host: '127.0.0.1', port: t.port, allowHalfOpen: true })
    : tlsConnect({ host: '127.0.0.1', port: t.port, secureContext: t.tls.context, servername: t.tls.servername })
  try {
    const done = answered(s)
    s.end('x')
    await done
  } finally {
    s.destroy()
  }
}

/** `concurrency` loops of fresh connections for `durationMs` (after `warmupMs`): one byte, half-close, the ack. */
export async function connections (
  t: ConnTarget, o: { concurrency: number, warmupMs: number, durationMs: number }
): Promise<ConnSample> {
  const counts = { ok: 0, errors: 0 }
  let measuring = false
  const stopAt = Date.now() + o.warmupMs + o.durationMs
  const loop = async (): Promise<void> => {
    while (Date.now() < stopAt) {
      try {
        await oneConnection(t)
        if (measuring) counts.ok++
      } catch {
        if (measuring) counts.errors++
      }
    }
  }
  const loops = Array.from({ length: o.concurrency }, loop)
  await new Promise((resolve) => setTimeout(resolve, o.warmupMs))
  measuring = true
  const [cpu0, client0, t0] = [cpuOf(t.pids), process.cpuUsage(), Date.now()]
  await Promise.all(loops)
  const seconds = (Date.now() - t0) / 1000
  const client = process.cpuUsage(client0)
  const n = Math.max(counts.ok, 1)
  return {
    perSecond: counts.ok / seconds,
    serverCpuUs: t.pids.length === 0 ? NaN : (cpuOf(t.pids) - cpu0) * 1000 / n,
    clientCpuUs: (client.user + client.system) / n,
    errors: counts.errors
  }
}
