// Websocket upgrades under /api/devices/ are tunnelled, not re-framed: the upgrade request goes to Mender with Host
// rewritten and forwarded headers added, Mender's 101 answer and every later byte are piped back unchanged. So every
// header (Authorization, Sec-WebSocket-Protocol: protomsg/msgpack, extensions) reaches Mender as the device sent it.
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { HttpErrors, type CodedError } from '../errors.js'
import { peerLog, peerOf } from '../tls/peer.js'
import { requestId } from '../request-id.js'
import { upstreamFailure } from '../mender/upstream-error.js'
import { IDENTITY_HEADER, type HeaderRewriter } from './headers.js'
import { isAuthPathAlias, normalisePath } from './path.js'
import { misdirected } from '../http-hooks.js'
import type { UpstreamTls } from './upstream.js'

const REPLACED = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-men-requestid', IDENTITY_HEADER])

export interface TunnelOptions { backend: string, tls: UpstreamTls, connectTimeoutMs: number, log: Logger, headers: HeaderRewriter }

/** Mender-shaped refusal written straight to the socket (no HTTP layer exists for an upgrade). */
function refuse (socket: Duplex, id: string, err: CodedError): void {
  const status = err.statusCode ?? 500
  const body = JSON.stringify({ error: err.message, request_id: id })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `X-MEN-RequestID: ${id}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/** The upgrade request as Mender must see it: the device's headers in order, Host and forwarding headers ours. */
export function upstreamHead (req: IncomingMessage, target: URL, id: string, headers: HeaderRewriter): string {
  const lines = [`${req.method ?? 'GET'} ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`]
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? ''
    if (!REPLACED.has(name.toLowerCase())) lines.push(`${name}: ${req.rawHeaders[i + 1] ?? ''}`)
  }
  const fwd = headers.forwarded({ id, socket: req.socket, peer: peerOf(req.socket) })
  for (const [name, value] of Object.entries(fwd)) lines.push(`${name}: ${value}`)
  return lines.join('\r\n') + '\r\n\r\n'
}

function dial (target: URL, o: TunnelOptions): Socket {
  const port = Number(target.port !== '' ? target.port : target.protocol === 'https:' ? 443 : 80)
  const host = target.hostname.replace(/^\[|\]$/g, '')
  const socket = target.protocol === 'https:'
    ? tlsConnect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ALPNProtocols: ['http/1.1'], ...o.tls })
    : tcpConnect({ host, port })
  socket.setTimeout(o.connectTimeoutMs, () => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })))
  return socket
}

export class WebsocketTunnels {
  private readonly open = new Set<Duplex>()
  /** Called with the code of every upstream failure (metrics). */
  onUpstreamError: ((code: string) => void) | undefined

  constructor (private readonly o: TunnelOptions) {}

  get size (): number { return this.open.size }

  /** Handles one 'upgrade' event of the mTLS server. */
  handle (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const id = requestId(req)
    const peer = peerOf(socket)
    const log = this.o.log.child({ reqId: id })
    const path = normalisePath(req.url ?? '')
    let refusal: CodedError | undefined
    if (peer === undefined) refusal = new HttpErrors.UNAUTHENTICATED()
    else if (path === undefined || !path.startsWith('/api/devices/')) refusal = new HttpErrors.NOT_FOUND()
    else if (isAuthPathAlias(req.url ?? '')) refusal = new HttpErrors.AUTH_PATH_ALIAS()
    else if (misdirected((socket as TLSSocket).servername, req.headers.host)) refusal = new HttpErrors.MISDIRECTED()
    if (refusal !== undefined) {
      log.warn({ code: refusal.code, event: 'upgrade', url: req.url, device: peerLog(peer) }, 'websocket upgrade refused')
      refuse(socket, id, refusal)
      return
    }
    const target = new URL(req.url ?? '/', this.o.backend)
    this.open.add(socket)
    const upstream = dial(target, this.o)
    const started = Date.now()
    let tunnelled = false
    upstream.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      tunnelled = true
      upstream.setTimeout(0)
      upstream.write(upstreamHead(req, target, id, this.o.headers))
      if (head.length > 0) upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
      upstream.once('data', (first: Buffer) => {
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(first.toString('latin1', 0, 16))?.[1] ?? 0)
        log.info({ event: 'upgrade', url: req.url, status, ms: Date.now() - started, device: peerLog(peer) }, 'websocket tunnel')
      })
    })
    upstream.on('error', (err) => {
      if (tunnelled) return
      const coded = upstreamFailure(err)
      log.error({ code: coded.code, event: 'upgrade', url: req.url, cause: err.message, device: peerLog(peer) }, 'websocket upstream failed')
      this.onUpstreamError?.(coded.code)
      refuse(socket, id, coded)
    })
    upstream.on('close', () => { if (tunnelled) socket.destroy() })
    socket.on('error', () => upstream.destroy())
    socket.on('close', () => { this.open.delete(socket); upstream.destroy() })
  }

  /** Closes every tunnel (shutdown): websockets have no request boundary to drain at. */
  closeAll (): void {
    for (const s of this.open) s.destroy()
    this.open.clear()
  }
}
