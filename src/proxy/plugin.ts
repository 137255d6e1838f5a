// Reverse proxy for every /api/devices/* HTTP call (all methods) to Mender: streaming bodies, Host rewritten,
// forwarded headers added, errors answered in Mender's shape. The auth path is never proxied here; websocket
// upgrades are tunnelled by websocket-tunnel.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
import { HttpErrors } from '../errors.js'
import { sendError } from '../error-reply.js'
import { upstreamFailure } from '../mender/upstream-error.js'
import { responseHeaders, type HeaderRewriter } from './headers.js'
import { isAuthPathAlias } from './path.js'

export const DEVICE_PREFIX = '/api/devices'

export interface ProxyOptions { backend: string, dispatcher: Dispatcher, headers: HeaderRewriter }

export async function deviceProxy (app: FastifyInstance, o: ProxyOptions): Promise<void> {
  await app.register(httpProxy, {
    upstream: o.backend,
    prefix: DEVICE_PREFIX,
    rewritePrefix: DEVICE_PREFIX,
    undici: o.dispatcher,
    disableRequestLogging: true,
    preHandler: refuseAuthAliases,
    replyOptions: {
      rewriteRequestHeaders: (request, headers) => o.headers.rewrite(request as FastifyRequest, headers),
      rewriteHeaders: (headers) => responseHeaders(headers),
      onError: (reply, { error }) => { sendError(reply.request as FastifyRequest, reply as FastifyReply, upstreamFailure(error)) }
    }
  })
}

async function refuseAuthAliases (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (isAuthPathAlias(request.url)) await sendError(request, reply, new HttpErrors.AUTH_PATH_ALIAS())
}
