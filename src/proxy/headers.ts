// Request headers the ambassador sets on everything it forwards: the correlation id Mender logs,
// X-Forwarded-For/-Proto describing the device connection and, when enabled, the verified certificate identity in
// X-Forwarded-Client-Cert. Inbound copies of all of them are replaced or removed, never trusted.
import type { IncomingHttpHeaders } from 'node:http'
import type { PeerIdentity } from '../tls/peer.js'

export const IDENTITY_HEADER = 'x-forwarded-client-cert'

/** What the header rewrite needs of a request (structural, so it fits every Fastify request flavour). */
export interface ForwardSource { id: string, socket: { remoteAddress?: string | undefined }, peer?: PeerIdentity | undefined }

/** Envoy-style XFCC value: `Hash=<sha256>;Serial=<hex>;Subject="<DN>"`. */
export function identityHeaderValue (peer: PeerIdentity): string {
  return `Hash=${peer.fingerprint};Serial=${peer.serial};Subject="${peer.subject.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

export class HeaderRewriter {
  constructor (private readonly forwardIdentity: boolean) {}

  /** The headers to set (names lowercase); the identity header only when enabled and the peer is known. */
  forwarded (source: ForwardSource): Record<string, string> {
    const out: Record<string, string> = {
      'x-men-requestid': source.id,
      'x-forwarded-for': source.socket.remoteAddress ?? '',
      'x-forwarded-proto': 'https'
    }
    if (this.forwardIdentity && source.peer !== undefined) out[IDENTITY_HEADER] = identityHeaderValue(source.peer)
    return out
  }

  /** Inbound headers with ours applied; an inbound identity header is always dropped. */
  rewrite<H extends IncomingHttpHeaders> (source: ForwardSource, headers: H): H {
    const copy: IncomingHttpHeaders = { ...headers }
    delete copy[IDENTITY_HEADER]
    return { ...copy, ...this.forwarded(source) } as H
  }
}

/** Connection-specific response headers (RFC 9110 §7.6.1) that describe Mender's connection, not the device's. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']

/** Mender's response headers without hop-by-hop ones: the device's own connection keeps its own semantics. */
export function responseHeaders<H extends Record<string, unknown>> (headers: H): H {
  const out: Record<string, unknown> = { ...headers }
  for (const name of HOP_BY_HOP) delete out[name]
  return out as H
}
