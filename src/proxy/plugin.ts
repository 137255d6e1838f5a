// Reverse proxy for every /api/devices/* call (all methods, websocket upgrades) to Mender: streaming bodies,
// Host rewritten, forwarded headers added, errors answered in Mender's shape. The auth path is never proxied here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import { HttpErrors } from '../errors.js'
import { sendError } from '../error-reply.js'
import { upstreamFailure } from '../mender/upstream-error.js'
import { forwardedHeaders, rewriteForUpstream } from './headers.js'
import { isAuthPathAlias } from './path.js'
import type { UpstreamTls } from './upstream.js'

export const DEVICE_PREFIX = '/api/devices'
const WS_FORWARDED = ['authorization', 'user-agent', 'x-men-requestid']

export interface ProxyOptions { backend: string, dispatcher: Dispatcher, tls: UpstreamTls }

export async function deviceProxy (app: FastifyInstance, o: ProxyOptions): Promise<void> {
  // http-proxy's types omit rewriteRequestHeaders for websockets; without it only `cookie` would be forwarded
  const wsClientOptions = {
    ...o.tls,
    rewriteRequestHeaders: (headers: IncomingHttpHeaders, request: FastifyRequest) => websocketHeaders(headers, request)
  }
  await app.register(httpProxy, {
    upstream: o.backend,
    prefix: DEVICE_PREFIX,
    rewritePrefix: DEVICE_PREFIX,
    websocket: true,
    undici: o.dispatcher,
    disableRequestLogging: true,
    preHandler: refuseAuthAliases,
    replyOptions: {
      rewriteRequestHeaders: (request, headers) => rewriteForUpstream(request, headers),
      onError: (reply, { error }) => { sendError(reply.request as FastifyRequest, reply as FastifyReply, upstreamFailure(error)) }
    },
    wsClientOptions
  })
}

/** Headers for the upstream websocket: the device's Authorization (and friends) plus forwarded headers. */
export function websocketHeaders (base: IncomingHttpHeaders, request: FastifyRequest): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...base }
  for (const name of WS_FORWARDED) {
    const v = request.headers[name]
    if (v !== undefined) out[name] = v
  }
  return { ...out, ...forwardedHeaders(request) }
}

async function refuseAuthAliases (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (isAuthPathAlias(request.url)) await sendError(request, reply, new HttpErrors.AUTH_PATH_ALIAS())
}
