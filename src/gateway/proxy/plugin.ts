// Reverse proxy for every /api/devices/* HTTP call (all methods) to Mender: streaming bodies, Host rewritten,
// forwarded headers added, errors answered in Mender's shape. Requests reach it already admitted with a canonical
// path (see request-admission.ts); the auth path has its own route; websocket upgrades are tunnelled apart. A request
// whose device connection ended first (timed out, reset) is not reported as a failure of Mender.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
import { answerUpstreamError } from './upstream-answer.js'
import { DEVICE_PREFIX } from '../mender/paths.js'
import { responseHeaders, type HeaderRewriter } from './headers.js'
import { retryDelay } from './retry.js'

export { DEVICE_PREFIX }

export interface ProxyOptions { backend: string, dispatcher: Dispatcher, headers: HeaderRewriter }

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
        answerUpstreamError(reply.request as FastifyRequest, reply as FastifyReply, error)
      }
    }
  })
}
