// Websocket upgrades under /api/devices/ are tunnelled, not re-framed. The upgrade is admitted like any request, sent
// to the configured backend's origin (never a host the target names) with the device's headers in order, and only a
// 101 answer turns the connection into a raw pipe; any other answer is relayed and the connection closed, so no byte
// the device sends later reaches Mender unchecked. Connect and header timeouts bound the wait for Mender.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { CodedError } from '../../errors.js'
import { rawErrorResponse } from '../error-reply.js'
import { requestId } from '../request-id.js'
import { upstreamFailure } from '../mender/upstream-error.js'
import { responseHeaders, type HeaderRewriter } from './headers.js'
import type { UpstreamTls } from './upstream.js'
import type { RequestAdmission } from '../request-admission.js'
import { pipeSockets } from '../../net/pipe.js'
import { WebsocketEnd } from './ws-going-away.js'
import { peerOf, type PeerIdentity } from '../../tls/peer.js'

/** Largest non-101 answer relayed to the device (Mender's error bodies are tiny). */
const MAX_REFUSAL_BODY = 64 * 1024

export interface TunnelOptions {
  backend: string
  tls: UpstreamTls
  connectTimeoutMs: number
  headersTimeoutMs: number
  log: Logger
  headers: HeaderRewriter
  admission: RequestAdmission
}

interface Exchange {
  req: IncomingMessage
  socket: Duplex
  head: Buffer
  id: string
  log: Logger
  started: number
  peer: PeerIdentity | undefined
}

function timeoutError (code: string): Error {
  return Object.assign(new Error(code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect timeout' : 'headers timeout'), { code })
}

/** The status line and headers of an answer, as raw HTTP/1.1 text. */
function headText (status: number, message: string, rawHeaders: string[]): string {
  let out = `HTTP/1.1 ${status} ${message}\r\n`
  for (let i = 0; i < rawHeaders.length; i += 2) out += `${rawHeaders[i] ?? ''}: ${rawHeaders[i + 1] ?? ''}\r\n`
  return out + '\r\n'
}

export class WebsocketTunnels {
  private readonly open = new Map<Duplex, WebsocketEnd>()
  private readonly origin: URL

  constructor (private readonly o: TunnelOptions) {
    this.origin = new URL(o.backend)
  }

  get size (): number { return this.open.size }

  /** Handles one 'upgrade' event of the mTLS server; never throws (a failure destroys the device socket). */
  handle (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const id = requestId(req)
    const ex: Exchange = {
      req, socket, head, id, log: this.o.log.child({ reqId: id }), started: Date.now(), peer: peerOf(socket)
    }
    try {
      socket.on('error', () => socket.destroy())
      const verdict = this.o.admission.admit(req, true)
      if (!verdict.ok) {
        ex.log.warn({ code: verdict.error.code, event: 'upgrade', detail: verdict.detail }, 'websocket upgrade refused')
        this.answer(ex, verdict.error)
        return
      }
      this.forward(ex, verdict.path + verdict.query)
    } catch (err) {
      ex.log.error({ code: 'MTLS_ERR_INTERNAL', event: 'upgrade', cause: (err as Error).message }, 'websocket upgrade failed')
      socket.destroy()
    }
  }

  /** Answers the device with a coded error and closes its connection. */
  private answer (ex: Exchange, err: CodedError): void {
    if (ex.socket.writable) ex.socket.end(rawErrorResponse(ex.id, err))
    this.done(ex, err.statusCode ?? 500, err.code)
  }

  private done (ex: Exchange, status: number, errorCode?: string): void {
    this.o.admission.answered(ex.id, {
      method: ex.req.method ?? 'GET',
      url: ex.req.url ?? '',
      route: 'device',
      status,
      ms: Date.now() - ex.started,
      peer: ex.peer,
      errorCode,
      upgrade: true
    })
  }

  private forward (ex: Exchange, path: string): void {
    const https = this.origin.protocol === 'https:'
    const host = this.origin.hostname.replace(/^\[|\]$/g, '')
    const upstream: ClientRequest = (https ? httpsRequest : httpRequest)({
      host,
      port: this.origin.port !== '' ? Number(this.origin.port) : (https ? 443 : 80),
      method: 'GET',
      path,
      headers: this.o.headers.rewriteRaw(
        { id: ex.id, socket: ex.req.socket, peer: ex.peer }, ex.req.rawHeaders, this.origin.host
      ),
      agent: false,
      setHost: false,
      ...(https ? { ...this.o.tls, servername: /^[\d.:]+$/.test(host) ? undefined : host } : {})
    })
    let settled = false
    let timer = setTimeout(() => upstream.destroy(timeoutError('UND_ERR_CONNECT_TIMEOUT')), this.o.connectTimeoutMs)
    upstream.once('socket', (s: Socket) => {
      s.once(https ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        timer = setTimeout(() => upstream.destroy(timeoutError('UND_ERR_HEADERS_TIMEOUT')), this.o.headersTimeoutMs)
      })
    })
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      clearTimeout(timer)
      return true
    }
    upstream.once('upgrade', (res: IncomingMessage, up: Socket, upHead: Buffer) => { if (settle()) this.pipe(ex, res, up, upHead) })
    upstream.once('response', (res: IncomingMessage) => { if (settle()) this.relayRefusal(ex, res) })
    upstream.on('error', (err) => {
      if (!settle()) return
      const coded = upstreamFailure(err)
      ex.log.error({ code: coded.code, event: 'upgrade', cause: err.message }, 'websocket upstream failed')
      this.answer(ex, coded)
    })
    ex.socket.once('close', () => { if (settle()) upstream.destroy() })
    upstream.end()
  }

  /** A 101: Mender's answer goes back as is, then bytes flow both ways until either side closes. */
  private pipe (ex: Exchange, res: IncomingMessage, up: Socket, upHead: Buffer): void {
    const { socket } = ex
    if (socket.destroyed) {
      up.destroy()
      return
    }
    const head = Buffer.from(headText(101, res.statusMessage ?? 'Switching Protocols', res.rawHeaders), 'latin1')
    socket.write(head)
    if (upHead.length > 0) socket.write(upHead)
    if (ex.head.length > 0) up.write(ex.head)
    // the shared byte pipe: back-pressure both ways, half-close propagated, either side's error closes both
    const pipe = pipeSockets(socket, up, {
      onClose: (stats) => {
        this.open.delete(socket)
        ex.log.info({ event: 'websocket_closed', ...stats }, 'websocket tunnel closed')
      }
    })
    this.open.set(socket, new WebsocketEnd(socket, up, pipe, upHead, ex.head))
    this.done(ex, 101)
  }

  /** Any other answer: relayed (bounded, Connection: close) and the device connection closed; nothing is piped. */
  private relayRefusal (ex: Exchange, res: IncomingMessage): void {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk)
      else res.destroy()
    })
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      const body = Buffer.concat(chunks)
      const headers = responseHeaders({ ...res.headers }) as Record<string, string | string[] | undefined>
      delete headers['content-length']
      delete headers['transfer-encoding']
      const raw = Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v ?? '']).flatMap((x) => [k, x]))
      raw.push('content-length', String(body.length), 'connection', 'close')
      if (ex.socket.writable) ex.socket.end(Buffer.concat([Buffer.from(headText(res.statusCode ?? 502, res.statusMessage ?? '', raw), 'latin1'), body]))
      this.done(ex, res.statusCode ?? 502)
    }
    res.once('end', finish)
    // an answer cut short (or too large) is still relayed as far as it got, and the connection closed
    res.once('close', finish)
    res.on('error', () => {})
  }

  /**
   * Ends every tunnel (shutdown): websockets have no request boundary to drain at, so each side gets a close frame
   * 1001 at the next frame boundary and a moment to answer. Returns how many were open and a promise settled once
   * each of them has closed both its sockets (the device's and Mender's; bounded by the going-away timers).
   */
  closeAll (): { count: number, closed: Promise<void> } {
    const ends = [...this.open.values()]
    for (const end of ends) end.goAway()
    return { count: ends.length, closed: Promise.all(ends.map(async (end) => await end.closed)).then(() => {}) }
  }
}
