// Turns any error into Mender's error shape: status, `{"error","request_id"}` body, X-MEN-RequestID header; the
// device learns nothing more, the log gets the stable code and the cause.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { HttpErrors, isCoded, type CodedError } from '../errors.js'
import { peerLog, peerOf } from '../tls/peer.js'

const FASTIFY_CODES: Record<string, () => CodedError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new HttpErrors.BODY_TOO_LARGE(),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new HttpErrors.UNSUPPORTED_MEDIA_TYPE(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new HttpErrors.BAD_REQUEST(),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new HttpErrors.BAD_REQUEST(),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new HttpErrors.BAD_REQUEST()
}

/** Our coded error for anything thrown during a request. */
export function toHttpError (err: unknown): CodedError {
  if (isCoded(err) && err.code.startsWith('MTLS_ERR_') && typeof err.statusCode === 'number') return err
  if (isCoded(err)) {
    const mapped = FASTIFY_CODES[err.code]
    if (mapped !== undefined) return mapped()
    const status = (err as FastifyError).statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) return new HttpErrors.BAD_REQUEST()
  }
  return new HttpErrors.INTERNAL({ cause: err })
}

/** The Mender-shaped body of an error. */
export function errorBody (id: string, err: CodedError): string {
  return JSON.stringify({ error: err.message, request_id: id })
}

/** A complete HTTP/1.1 error response that closes the connection, for sockets without an HTTP layer. */
export function rawErrorResponse (id: string, err: CodedError, extra: Record<string, string> = {}): string {
  const status = err.statusCode ?? 500
  const body = errorBody(id, err)
  const headers = Object.entries(extra).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `X-MEN-RequestID: ${id}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

export function sendError (request: FastifyRequest, reply: FastifyReply, err: unknown, detail?: string): FastifyReply {
  const coded = toHttpError(err)
  const status = coded.statusCode ?? 500
  request.errorCode = coded.code
  const fields = {
    code: coded.code,
    status,
    device: peerLog(request.peer ?? peerOf(request.raw.socket)),
    cause: coded === err ? (coded.cause as Error | undefined)?.message : (err as Error).message,
    ...(detail !== undefined ? { detail } : {})
  }
  if (status >= 500) request.log.error(fields, coded.message)
  else request.log.warn(fields, coded.message)
  const retryAfter = (coded as { retryAfter?: unknown }).retryAfter
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
  return reply
    .code(status)
    .header('x-men-requestid', request.id)
    .type('application/json; charset=utf-8')
    .send(errorBody(request.id, coded))
}
