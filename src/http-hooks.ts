// Hooks every request on the mTLS app goes through: admission (no admitted peer → 401, draining → 503), the access
// log line and request metrics, Connection: close while draining, and Mender-shaped errors and 404s.
import type { TLSSocket } from 'node:tls'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { HttpErrors } from './errors.js'
import { sendError } from './error-reply.js'
import { peerLog, peerOf } from './tls/peer.js'
import { AUTH_PATH } from './device-auth/interceptor.js'
import type { Metrics } from './metrics.js'

const UPSTREAM_CODE = /^MTLS_ERR_(UPSTREAM|MGMT|PREAUTH)_/

/**
 * True when the request's Host names another server than the TLS server name (SNI) the connection was made for: a
 * connection set up for one tenant must not carry requests meant for another (RFC 9110 §15.5.20, 421).
 */
export function misdirected (servername: string | false | null | undefined, host: string | undefined): boolean {
  if (typeof servername !== 'string' || servername === '' || host === undefined) return false
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')
  return hostname.toLowerCase() !== servername.toLowerCase()
}

/** Low-cardinality route label for metrics. */
export function routeGroup (request: FastifyRequest): string {
  const route = request.routeOptions.url
  if (route === AUTH_PATH) return 'auth'
  if (route === '/status') return 'status'
  if (route?.startsWith('/api/devices') === true) return 'device'
  return 'other'
}

export function addGatewayHooks (app: FastifyInstance, metrics: Metrics, isDraining: () => boolean): void {
  app.decorateRequest('peer', undefined)
  app.decorateRequest('errorCode', undefined)
  app.addHook('onRequest', async (request, reply) => {
    request.peer = peerOf(request.raw.socket)
    if (request.peer === undefined) return await sendError(request, reply, new HttpErrors.UNAUTHENTICATED())
    if (isDraining()) return await sendError(request, reply, new HttpErrors.SHUTTING_DOWN())
    if (misdirected((request.raw.socket as TLSSocket).servername, request.headers.host)) return await sendError(request, reply, new HttpErrors.MISDIRECTED())
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = routeGroup(request)
    metrics.requests.inc({ route, method: request.method, status: reply.statusCode })
    metrics.duration.observe({ route }, reply.elapsedTime / 1000)
    if (request.errorCode !== undefined && UPSTREAM_CODE.test(request.errorCode)) metrics.upstreamErrors.inc({ kind: request.errorCode })
    request.log.info({
      event: 'access',
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      device: peerLog(request.peer)
    }, 'request')
  })
  // while draining, every response closes its connection so keep-alive clients let the server finish
  app.addHook('onSend', async (_request, reply) => {
    if (isDraining()) reply.header('connection', 'close')
  })
  app.setErrorHandler(async (err, request, reply) => await sendError(request, reply, err))
  app.setNotFoundHandler(async (request, reply) => await sendError(request, reply, new HttpErrors.NOT_FOUND()))
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Code of the error answered, set by sendError (metrics read it). */
    errorCode: string | undefined
  }
}
