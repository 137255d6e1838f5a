// Helpers for the socket-layer tests: hashed byte streams with back-pressure, echo and sink servers over TCP, Unix
// and TLS, a pipe proxy built from src/net, and leak checks on the process' active handles and timers.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'
import { pipeSockets, type Pipe, type PipeOptions, type PipeStats } from '../../src/net/pipe.js'
import type { TestPki } from './pki.js'

export type Kind = 'tcp' | 'unix' | 'tls'
export interface Digest { bytes: number, sha: string }
export interface Endpoint { kind: Kind, port?: number, path?: string }

/** Writes `total` random bytes in chunks of `sizes()` (awaiting drain), then ends unless told; resolves the digest. */
export async function sendHashed (s: Duplex, total: number,
  opts: { sizes?: () => number, end?: boolean } = {}): Promise<Digest> {
  const hash = createHash('sha256')
  const sizes = opts.sizes ?? (() => 65536)
  let sent = 0
  const pool = randomBytes(1 << 20)
  while (sent < total) {
    const size = Math.min(sizes(), total - sent)
    const offset = (sent * 7919) % (pool.length - size + 1)
    const chunk = pool.subarray(offset, offset + size)
    hash.update(chunk)
    sent += size
    if (!s.write(chunk)) await drained(s, sent)
  }
  if (opts.end !== false) s.end()
  return { bytes: sent, sha: hash.digest('hex') }
}

async function drained (s: Duplex, sent: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { s.off('close', onClose); resolve() }
    const onClose = (): void => { s.off('drain', onDrain); reject(new Error(`closed after ${sent} bytes`)) }
    s.once('drain', onDrain)
    s.once('close', onClose)
  })
}

/** Resolves with the digest of everything read until 'end'; rejects if the socket closes or errors first. */
export async function receiveHashed (s: Duplex): Promise<Digest> {
  const hash = createHash('sha256')
  let bytes = 0
  return await new Promise((resolve, reject) => {
    s.on('data', (d: Buffer) => { hash.update(d); bytes += d.length })
    s.once('end', () => resolve({ bytes, sha: hash.digest('hex') }))
    s.once('error', reject)
    s.once('close', () => reject(new Error(`closed without end after ${bytes} bytes`)))
  })
}

export function tempDir (prefix = 'net-'): { dir: string, cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A server of `kind` (allowHalfOpen, TLS 1.3 with a client certificate for 'tls'). */
export async function serve (kind: Kind, pki: TestPki | undefined, onSocket: (s: net.Socket) => void,
  where?: string): Promise<{ server: net.Server, endpoint: Endpoint, close: () => Promise<void> }> {
  const open = new Set<net.Socket>()
  const track = (s: net.Socket): void => { open.add(s); s.once('close', () => open.delete(s)); onSocket(s) }
  const server = kind === 'tls'
    ? tls.createServer({ ...tlsServerOptions(pki), allowHalfOpen: true }, track)
    : net.createServer({ allowHalfOpen: true }, track)
  const endpoint: Endpoint = { kind }
  if (kind === 'unix') {
    endpoint.path = where ?? join(tempDir('net-sock-').dir, 's.sock')
    await new Promise<void>((resolve) => server.listen(endpoint.path, resolve))
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint.port = (server.address() as net.AddressInfo).port
  }
  const close = async (): Promise<void> => {
    const closed = new Promise((resolve) => server.close(resolve))
    for (const s of open) s.destroy()
    await closed
  }
  return { server, endpoint, close }
}

function tlsServerOptions (pki: TestPki | undefined): tls.TlsOptions {
  if (pki === undefined) throw new Error('a TLS server needs the test PKI')
  return {
    key: pki.server.keyPem,
    cert: pki.server.chainPem,
    ca: pki.trust.pem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3'
  }
}

/** Starts connecting to an endpoint with allowHalfOpen (TLS: TLS 1.3 with the EC device certificate). */
export function dialEndpoint (e: Endpoint, pki?: TestPki): net.Socket {
  if (e.kind === 'unix') return net.connect({ path: e.path ?? '', allowHalfOpen: true })
  if (e.kind === 'tcp') return net.connect({ port: e.port ?? 0, host: '127.0.0.1', allowHalfOpen: true })
  if (pki === undefined) throw new Error('a TLS client needs the test PKI')
  // tls.connect honours allowHalfOpen when it makes the TCP socket itself; @types/node's ConnectionOptions lacks it
  const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    host: '127.0.0.1',
    port: e.port ?? 0,
    servername: 'localhost',
    ca: pki.root.certPem,
    key: pki.devices.ec.keyPem,
    cert: pki.devices.ec.certPem,
    minVersion: 'TLSv1.3',
    allowHalfOpen: true
  }
  return tls.connect(options)
}

/** Connects to an endpoint; resolves when connected (TLS: after the handshake). */
export async function connectTo (e: Endpoint, pki?: TestPki): Promise<net.Socket> {
  const s = dialEndpoint(e, pki)
  await new Promise<void>((resolve, reject) => {
    s.once(e.kind === 'tls' ? 'secureConnect' : 'connect', resolve)
    s.once('error', reject)
  })
  return s
}

/** Echoes what it reads and ends after the peer's end (stream.pipe: back-pressure and end after flush). */
export const echo = (s: net.Socket): void => { s.on('error', () => {}); s.pipe(s) }

export interface PipeProxy {
  endpoint: Endpoint
  stats: PipeStats[]
  pipes: Pipe[]
  /** Sockets of each tunnel: a (accepted) and b (dialled). */
  sockets: Array<{ a: net.Socket, b: net.Socket }>
  closed: (n: number) => Promise<PipeStats[]>
  close: () => Promise<void>
}

/** Listens on `front`, dials `target` for every connection and joins them with pipeSockets. */
export async function pipeProxy (front: Kind, target: Endpoint, pki: TestPki | undefined,
  opts: PipeOptions = {}): Promise<PipeProxy> {
  const stats: PipeStats[] = []
  const pipes: Pipe[] = []
  const sockets: PipeProxy['sockets'] = []
  const waiters: Array<() => void> = []
  const onSocket = (a: net.Socket): void => {
    const b = dialEndpoint(target, pki)
    sockets.push({ a, b })
    pipes.push(pipeSockets(a, b, {
      ...opts,
      onClose: (st) => { stats.push(st); opts.onClose?.(st); for (const w of waiters.splice(0)) w() }
    }))
  }
  const { endpoint, close } = await serve(front, pki, onSocket)
  const closed = async (n: number): Promise<PipeStats[]> => {
    while (stats.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
    return stats
  }
  return { endpoint, stats, pipes, sockets, closed, close }
}

const TRACKED = ['TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'PipeServerWrap', 'Timeout', 'TLSWrap', 'ProcessWrap']

/** Counts of the active handle kinds a socket layer can leak. */
export function resources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) if (TRACKED.includes(r)) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

/** Waits (up to 2 s) until the tracked handle counts are back to `before`; rejects naming what is left. */
export async function expectNoLeaks (before: Record<string, number>): Promise<void> {
  const deadline = Date.now() + 2000
  for (;;) {
    const now = resources()
    const extra = TRACKED.filter((k) => (now[k] ?? 0) > (before[k] ?? 0))
      .map((k) => `${k}: ${before[k] ?? 0} -> ${now[k] ?? 0}`)
    if (extra.length === 0) return
    if (Date.now() > deadline) throw new Error(`leaked: ${extra.join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The first terminal event of a socket: 'end', an error code, or 'closed'; the socket is destroyed after it. */
export async function outcome (s: net.Socket): Promise<string> {
  return await new Promise((resolve) => {
    const done = (what: string): void => { resolve(what); s.destroy() }
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'))
    s.once('end', () => done('end'))
    s.once('close', () => done('closed'))
    s.resume()
  })
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
