// HTTP/2 for devices: the mTLS listener offers `h2` and `http/1.1` over ALPN (one Http2SecureServer; Node's HTTP/1
// layer serves the HTTP/1.1 connections as before, websocket upgrades included), or `http/1.1` alone (`http2: false`).
// What HTTP/2 needs beyond the shared hooks lives here: session limits (concurrent streams, header list, session
// memory, stream resets), the HTTP/1.1 timeouts Fastify only sets on its own HTTP/1 server, the deadlines Node has
// none of for HTTP/2 (first request, idle session, whole request), GOAWAY on drain, closing every connection at the
// drain deadline, and Mender-shaped answers written on a stream.
import { constants, type Http2SecureServer, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import { METHODS, maxHeaderSize, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Server as TlsServer, TLSSocket } from 'node:tls'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import { HttpErrors, LogCodes, type CodedError } from '../errors.js'
import { peerLog, peerOf } from '../tls/peer.js'
import { errorBody, sendError } from './error-reply.js'
import { requestId } from './request-id.js'

type Gw = DeepReadonly<Pick<GatewayConfig, 'http2' | 'headers_timeout' | 'request_timeout' | 'keep_alive_timeout'>>

/** Time a stream answered at its deadline (or a session sent GOAWAY) gets before it is cut. */
const CLOSE_GRACE_MS = 1000

/** Bounds of one device's HTTP/2 connection (Node's own defaults allow unbounded concurrent streams). */
export const H2_LIMITS = {
  /** Streams open at once on one connection; more are refused (REFUSED_STREAM). */
  maxConcurrentStreams: 100,
  /** Decoded header bytes of one request advertised to the device; HTTP/1.1's limit is enforced by headersTooLarge. */
  maxHeaderListSize: 32 * 1024,
  /** Header fields of one request, pseudo-headers included: more reset the stream (more than 16 KiB holds anyway). */
  maxHeaderListPairs: 4096,
  /** MiB one session may buffer (streams, header tables, unsent data); new streams beyond it are refused. */
  maxSessionMemory: 10,
  /** Refused streams and invalid frames tolerated before the session is closed. */
  maxSessionRejectedStreams: 100,
  maxSessionInvalidFrames: 100,
  /** Stream resets (RST_STREAM) accepted from a device: a burst, then per second (rapid reset, CVE-2023-44487). */
  streamResetBurst: 200,
  streamResetRate: 33
} as const

/** True for a request (or stream response) carried by HTTP/2. */
export function isHttp2 (req: { httpVersionMajor?: number }): boolean {
  return req.httpVersionMajor === 2
}

/** Fastify's server options for the listener: an Http2SecureServer that also serves HTTP/1.1, or HTTPS alone. */
export function listenerOptions (g: Gw, https: Record<string, unknown>): Record<string, unknown> {
  if (!g.http2) return { https }
  const { maxConcurrentStreams, maxHeaderListSize, ...session } = H2_LIMITS
  return {
    http2: true,
    // Fastify closes (GOAWAY) a session idle this long; watchSessions closes idle ones on its own deadline too
    http2SessionTimeout: g.keep_alive_timeout,
    https: { ...https, allowHTTP1: true, settings: { maxConcurrentStreams, maxHeaderListSize }, ...session }
  }
}

/** A Mender-shaped error written on an HTTP/2 response outside Fastify (CONNECT, Expect). */
export function answerStream (res: Http2ServerResponse, id: string, coded: CodedError): void {
  if (res.headersSent || res.stream.destroyed) return
  const body = errorBody(id, coded)
  res.writeHead(coded.statusCode ?? 500, {
    'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-men-requestid': id
  })
  res.end(body)
}

interface Tracked { sockets: Set<TLSSocket>, sessions: Set<ServerHttp2Session> }
const tracked = new WeakMap<object, Tracked>()

/**
 * Destroys every device connection (the drain deadline): HTTP/1.1 and HTTP/2 alike on the HTTP/2 listener (Node 20's
 * has no closeAllConnections), Node's own closeAllConnections on the HTTPS one.
 */
export function closeDeviceConnections (server: object): void {
  const t = tracked.get(server)
  if (t === undefined) {
    (server as { closeAllConnections?: () => void }).closeAllConnections?.()
    return
  }
  for (const session of t.sessions) session.destroy()
  for (const socket of t.sockets) socket.destroy()
}

/**
 * GOAWAY to every session: streams in flight finish, the device opens no new ones here (a session still open at the
 * drain deadline is destroyed by closeDeviceConnections).
 */
function goAway (t: Tracked): void {
  for (const session of t.sessions) if (!session.closed && !session.destroyed) session.close()
}

/**
 * Deadlines of a session without an open stream: its first request must arrive within `headers_timeout` (as on
 * HTTP/1.1, a connection that sends nothing is not kept), and once served, an idle session lives `keep_alive_timeout`.
 * Neither is reset by frames that open no stream (pings, settings, a header block trickled in pieces).
 */
function watchSession (session: ServerHttp2Session, g: Gw, log: Logger): void {
  let timer: NodeJS.Timeout | undefined
  let served = false
  let open = 0
  const expire = (): void => {
    if (session.closed || session.destroyed) return
    if (!served) {
      const coded = new HttpErrors.REQUEST_TIMEOUT()
      log.warn({ code: coded.code, http: '2', device: peerLog(peerOf(session.socket)) }, 'no request within headers_timeout, connection closed')
    }
    session.close()
    setTimeout(() => { if (!session.destroyed) session.destroy() }, CLOSE_GRACE_MS).unref()
  }
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(expire, served ? g.keep_alive_timeout : g.headers_timeout).unref()
  }
  session.on('stream', (stream: ServerHttp2Stream) => {
    served = true
    open++
    clearTimeout(timer)
    stream.once('close', () => { if (--open === 0) arm() })
  })
  session.once('close', () => { clearTimeout(timer) })
  session.on('error', (err: NodeJS.ErrnoException) => {
    log.warn({ code: LogCodes.H2_SESSION, cause: err.code ?? err.message, device: peerLog(peerOf(session.socket)) }, 'http/2 session failed')
  })
  arm()
}

const requests = new WeakMap<ServerHttp2Stream, { request: FastifyRequest, reply: FastifyReply }>()

/**
 * A stream whose request is not complete `request_timeout` after it opened (HTTP/1.1's requestTimeout, which HTTP/2
 * lacks): answered 408 MTLS_ERR_REQUEST_TIMEOUT through Fastify when nothing was answered yet, then cut.
 */
function streamDeadline (stream: ServerHttp2Stream, g: Gw, log: Logger): void {
  if (stream.endAfterHeaders) return
  const timer = setTimeout(() => {
    if (stream.destroyed || stream.closed) return
    const pending = requests.get(stream)
    if (pending !== undefined && !pending.reply.sent) {
      sendError(pending.request, pending.reply, new HttpErrors.REQUEST_TIMEOUT(), 'request body not complete')
    } else {
      log.warn({ code: new HttpErrors.REQUEST_TIMEOUT().code, http: '2' }, 'request not complete within request_timeout')
    }
    setTimeout(() => { if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL) }, CLOSE_GRACE_MS).unref()
  }, g.request_timeout).unref()
  const done = (): void => { clearTimeout(timer) }
  stream.once('end', done)
  stream.once('close', done)
}

/** The methods Node's HTTP/1.1 parser reads (and Fastify routes): `:method` on HTTP/2 is any token. */
const KNOWN_METHODS = new Set(METHODS)

/**
 * Puts a method check before Fastify's request handler: an HTTP/2 `:method` that HTTP/1.1's parser would refuse
 * (`post`, `FOO`) gets the same 400 MTLS_ERR_BAD_REQUEST, with one coded line, instead of reaching Fastify's router,
 * which has no route for it. HTTP/1.1 requests pass untouched (their parser checked the method).
 */
function checkMethods (server: Http2SecureServer, log: Logger): void {
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (isHttp2(req) && !KNOWN_METHODS.has(req.method ?? '')) {
      const coded = new HttpErrors.BAD_REQUEST()
      const id = requestId(req)
      const method = (req.method ?? '').slice(0, 32)
      log.warn({ code: coded.code, reqId: id, reason: 'unknown method', method, http: '2', device: peerLog(peerOf(req.socket)) }, coded.message)
      answerStream(res as unknown as Http2ServerResponse, id, coded)
      return
    }
    for (const handler of handlers) handler.call(server, req, res)
  })
}

/**
 * Sets up the HTTP/2 listener of `app` (created with listenerOptions; a no-op for HTTPS alone). Must run before the
 * gateway's own hooks and before the TLS guard is installed.
 */
export function serveHttp2 (app: FastifyInstance, g: Gw, log: Logger): void {
  if (!g.http2) return
  const server = app.server as unknown as Http2SecureServer & TlsServer & {
    keepAliveTimeout: number, requestTimeout: number, headersTimeout: number, connectionsCheckingInterval: number
  }
  // HTTP/1.1 connections on this listener: the timeouts Fastify sets only on an HTTP/1 server
  server.keepAliveTimeout = g.keep_alive_timeout
  server.requestTimeout = g.request_timeout
  server.headersTimeout = g.headers_timeout
  server.connectionsCheckingInterval = Math.min(1000, g.headers_timeout)
  // Node forwards handshake failures to 'clientError' (Fastify's HTTP parser handler): the TLS guard logs them itself
  for (const listener of server.listeners('tlsClientError')) server.removeListener('tlsClientError', listener as never)
  checkMethods(server, log)
  const t: Tracked = { sockets: new Set(), sessions: new Set() }
  tracked.set(server, t)
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.destroyed) return
    t.sockets.add(socket)
    socket.once('close', () => t.sockets.delete(socket))
  })
  server.on('session', (session: ServerHttp2Session) => {
    t.sessions.add(session)
    session.once('close', () => t.sessions.delete(session))
    watchSession(session, g, log)
  })
  server.on('stream', (stream: ServerHttp2Stream) => { streamDeadline(stream, g, log) })
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw as unknown as { httpVersionMajor: number, stream?: ServerHttp2Stream }
    if (isHttp2(raw) && raw.stream !== undefined) requests.set(raw.stream, { request, reply })
  })
  app.addHook('preClose', async () => { goAway(t) })
}

/** The authority a request names: Host on HTTP/1.x; on HTTP/2 `:authority`, else a Host header (RFC 9113 §8.3.1). */
export function requestHost (req: { httpVersionMajor?: number, headers: Record<string, unknown> }): string | undefined {
  const h = req.headers
  const value = isHttp2(req) ? h[':authority'] ?? h.host : h.host
  return typeof value === 'string' ? value : undefined
}

/** What is wrong with the authority of an HTTP/2 request ('' when nothing): none at all, or Host ≠ `:authority`. */
export function authorityProblem (headers: Record<string, unknown>): string {
  const authority = headers[':authority']
  const host = headers.host
  if (typeof authority !== 'string' && typeof host !== 'string') return 'no :authority or Host'
  if (typeof authority === 'string' && typeof host === 'string' && authority.toLowerCase() !== host.toLowerCase()) {
    return 'Host differs from :authority'
  }
  return ''
}

/**
 * True when an HTTP/2 request's header fields, counted as HTTP/1.1 sends them, exceed Node's HTTP/1 header limit
 * (16 KiB unless `--max-http-header-size`): refused 431 like the same request on HTTP/1.1, where the parser does it.
 */
export function headersTooLarge (req: { rawHeaders: string[] }): boolean {
  let size = 0
  for (const item of req.rawHeaders) size += item.length + 2
  return size > maxHeaderSize
}
