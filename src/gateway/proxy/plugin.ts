// Reverse proxy for every /api/devices/* HTTP call (all methods) to Mender: streaming bodies, Host rewritten,
// forwarded headers added, errors answered in Mender's shape. Requests reach it already admitted with a canonical
// path (see request-admission.ts); the auth path has its own route; websocket upgrades are tunnelled apart. A request
// whose device connection ended first (timed out, reset) is not reported as a failure of Mender.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
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

export async function deviceProxy (app: FastifyInstance, o: ProxyOptions): Promise<void> {
  // @fastify/http-proxy over @fastify/reply-from: the upstream is always the configured origin, and the path is the
  // canonical one request admission left in request.url (prefix and rewritePrefix are the same)
  await app.register(httpProxy, {
    upstream: o.backend,
    prefix: DEVICE_PREFIX,
    rewritePrefix: DEVICE_PREFIX,
    undici: o.dispatcher,
    disableRequestLogging: true,
    replyOptions: {
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
  })
}
