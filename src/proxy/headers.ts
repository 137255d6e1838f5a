// Request headers the ambassador sets on everything it forwards: the correlation id Mender logs, and
// X-Forwarded-For/-Proto describing the device connection (inbound copies are replaced, never trusted).
import type { IncomingHttpHeaders } from 'node:http'

/** What the header rewrite needs of a request (structural, so it fits every Fastify request flavour). */
export interface ForwardSource { id: string, socket: { remoteAddress?: string | undefined } }

export function forwardedHeaders (request: ForwardSource): Record<string, string> {
  return {
    'x-men-requestid': request.id,
    'x-forwarded-for': request.socket.remoteAddress ?? '',
    'x-forwarded-proto': 'https'
  }
}

export function rewriteForUpstream<H extends IncomingHttpHeaders> (request: ForwardSource, headers: H): H {
  return { ...headers, ...forwardedHeaders(request) }
}
