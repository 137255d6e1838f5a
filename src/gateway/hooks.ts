// Hooks every HTTP request on the mTLS app goes through: the request admission (run before routing, so Fastify only
// ever routes a canonical path), the access log line and metrics, Connection: close while draining, Mender-shaped
// errors and 404s, and Mender-shaped answers to requests Node's HTTP parser refused.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { HttpErrors, type CodedError } from '../errors.js'
import { errorBody, rawErrorResponse, sendError } from './error-reply.js'
import { peerLog, peerOf } from '../tls/peer.js'
import { routeOf, type Admission, type RequestAdmission } from './request-admission.js'
import { requestId } from './request-id.js'
import { answerStream, isHttp2 } from './http2.js'
import type { Http2ServerResponse } from 'node:http2'
import { deviceGone, dropGone } from './proxy/upstream-answer.js'

/** Time an answered, half-closed connection gets to drain before it is destroyed. */
const CLOSE_GRACE_MS = 1000

const admissions = new WeakMap<IncomingMessage, Admission>()

/** Fastify's `rewriteUrl`: admits the request and hands the router its canonical path (`/` when refused). */
export function admittingRewrite (admission: RequestAdmission): (req: IncomingMessage) => string {
  return (req) => {
    const verdict = admission.admit(req, false)
    admissions.set(req, verdict)
    return verdict.ok ? verdict.path + verdict.query : '/'
  }
}

export function addGatewayHooks (app: FastifyInstance, admission: RequestAdmission, isDraining: () => boolean): void {
  app.decorateRequest('peer', undefined)
  app.decorateRequest('errorCode', undefined)
  app.addHook('onRequest', async (request, reply) => {
    const verdict = admissions.get(request.raw)
    request.peer = verdict?.peer
    if (verdict === undefined) return await sendError(request, reply, new HttpErrors.UNAUTHENTICATED())
    if (!verdict.ok) return await sendError(request, reply, verdict.error, verdict.detail)
  })
  app.addHook('onResponse', async (request, reply) => {
    admission.answered(request.id, {
      method: request.method,
      url: request.originalUrl,
      route: routeOf(request.url),
      status: reply.statusCode,
      ms: reply.elapsedTime,
      peer: request.peer,
      errorCode: request.errorCode,
      http: request.raw.httpVersion
    })
  })
  // while draining, every response closes its connection so keep-alive clients let the server finish (HTTP/2 has no
  // Connection header: its sessions get GOAWAY, see http2.ts)
  app.addHook('onSend', async (request, reply) => {
    if (isDraining() && !isHttp2(request.raw)) reply.header('connection', 'close')
  })
  app.setErrorHandler(async (err, request, reply) => {
    if (deviceGone(reply.raw as ServerResponse)) dropGone(request, reply, err)
    else await sendError(request, reply, err)
  })
  app.setNotFoundHandler(async (request, reply) => await sendError(request, reply, new HttpErrors.NOT_FOUND()))
}

/** The coded error for a request Node's HTTP parser refused. */
function parserError (err: NodeJS.ErrnoException): CodedError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new HttpErrors.HEADERS_TOO_LARGE()
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new HttpErrors.REQUEST_TIMEOUT()
  return new HttpErrors.BAD_REQUEST()
}

/**
 * Fastify's `clientErrorHandler`: a Mender-shaped answer and one coded log line naming the parser's reason. The
 * error's `rawPacket` (the request bytes, credentials included) is never logged.
 */
export function clientErrorHandler (log: Logger): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const coded = parserError(err)
    const id = requestId({ headers: {} })
    const peer = peerOf(socket)
    log.warn({
      code: coded.code,
      reqId: id,
      parserError: err.code,
      reason: err.message,
      remote: socket.remoteAddress,
      device: peerLog(peer)
    }, coded.message)
    // a socket the TLS guard never admitted (e.g. its handshake timed out) gets no HTTP answer
    if (peer === undefined || !socket.writable) {
      socket.destroy()
      return
    }
    socket.end(rawErrorResponse(id, coded))
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref()
  }
}

/** Answers a request whose Expect is not `100-continue` (RFC 9110 §10.1.1): 417, nothing forwarded. */
export function expectationFailed (log: Logger, req: IncomingMessage, res: ServerResponse): void {
  const coded = new HttpErrors.EXPECTATION_FAILED()
  const id = requestId(req)
  log.warn({ code: coded.code, reqId: id, device: peerLog(peerOf(req.socket)) }, coded.message)
  if (isHttp2(req)) return answerStream(res as unknown as Http2ServerResponse, id, coded)
  const body = errorBody(id, coded)
  res.writeHead(coded.statusCode ?? 417, {
    'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-men-requestid': id, connection: 'close'
  })
  res.end(body)
}

/**
 * A CONNECT request (the gateway is not a forward proxy): Mender-shaped 405, nothing dialled; an HTTP/1.1 connection
 * is closed, on HTTP/2 (`socket` is then the stream's response) only the stream ends.
 */
export function refuseConnect (log: Logger, req: IncomingMessage, socket: Duplex): void {
  const coded = new HttpErrors.METHOD_NOT_ALLOWED()
  const id = requestId(req)
  log.warn({ code: coded.code, reqId: id, method: 'CONNECT', device: peerLog(peerOf(req.socket)) }, coded.message)
  if (isHttp2(req)) return answerStream(socket as unknown as Http2ServerResponse, id, coded)
  socket.on('error', () => socket.destroy())
  if (socket.writable) socket.end(rawErrorResponse(id, coded))
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref()
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Code of the error answered, set by sendError (metrics read it). */
    errorCode: string | undefined
  }
}
