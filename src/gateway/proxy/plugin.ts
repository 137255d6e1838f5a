// Reverse proxy for every /api/devices/* HTTP call (all methods) to Mender: streaming bodies, Host rewritten,
// forwarded headers added, errors answered in Mender's shape. Requests reach it already admitted with a canonical
// path (see request-admission.ts); the auth path has its own route; websocket upgrades are tunnelled apart. A request
// whose device connection ended first (timed out, reset) is not reported as a failure of Mender.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from'
import type { Agent, Dispatcher } from 'undici'
import { sendError } from '../error-reply.js'
import { upstreamFailure } from '../mender/upstream-error.js'
import { DEVICE_PREFIX } from '../mender/paths.js'
import { responseHeaders, type HeaderRewriter } from './headers.js'
import { retryDelay } from './retry.js'

export { DEVICE_PREFIX }

export interface ProxyOptions { backend: string, dispatcher: Dispatcher, headers: HeaderRewriter }

/** True when nothing can be answered any more: the device's connection is closed or already ended by the gateway. */
function deviceGone (res: ServerResponse): boolean {
  const socket = res.socket
  return res.destroyed || socket === null || socket.destroyed || socket.writableEnded
}

/** Every method the proxy forwards (the auth path's POST has its own route). */
const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS']

/** A JSON or unknown-type body is handed on as the stream it arrives as, never parsed or buffered. */
function passBody (_request: FastifyRequest, payload: unknown, done: (err: null, body: unknown) => void): void {
  done(null, payload)
}

export async function deviceProxy (app: FastifyInstance, o: ProxyOptions): Promise<void> {
  // the upstream URL is the configured origin and the canonical path (rewriteUrl made request.url canonical);
  // reply-from keeps that URL by path in a small cache, so a recurring path is not parsed again
  await app.register(replyFrom, { base: o.backend, undici: o.dispatcher as Agent, disableRequestLogging: true })
  app.addContentTypeParser('application/json', passBody)
  app.addContentTypeParser('*', passBody)
  const options: FastifyReplyFromHooks = {
    retryDelay,
    rewriteRequestHeaders: (request, headers) =>
      o.headers.rewrite(request as FastifyRequest, headers, request.headers.connection),
    rewriteHeaders: (headers) => responseHeaders(headers),
    onError: (reply, { error }) => {
      const request = reply.request as FastifyRequest
      if (deviceGone(reply.raw as ServerResponse)) {
        // cut by a timeout or reset by the device mid-request: nobody to answer, and no failure of Mender's
        request.log.info({ event: 'device_gone', cause: error.message }, 'device connection ended before the answer')
        reply.raw.destroy()
        return
      }
      sendError(request, reply as FastifyReply, upstreamFailure(error))
    }
  }
  const handler = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const q = request.url.indexOf('?')
    // the path alone: reply-from takes the query from request.url
    return reply.from(q < 0 ? request.url : request.url.slice(0, q), options)
  }
  app.route({ method: METHODS, url: DEVICE_PREFIX, handler })
  app.route({ method: METHODS, url: DEVICE_PREFIX + '/*', handler })
}
