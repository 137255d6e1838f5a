// What the gateway sends upstream besides the device's own headers, and what it never passes on. One policy for HTTP
// requests and websocket upgrades: hop-by-hop headers (RFC 9110 §7.6.1: Connection and the names it lists,
// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, plus Expect, answered at the edge) and every header a proxy
// behind us might read as the client's identity are dropped; the gateway sets only what it vouches for.
import type { IncomingHttpHeaders } from 'node:http'
import type { PeerIdentity } from '../../tls/peer.js'

export const IDENTITY_HEADER = 'x-forwarded-client-cert'

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'expect',
  'http2-settings', 'proxy-authorization', 'proxy-authenticate'
])

/** Identity-like names (compared lower-cased, `_` read as `-`): client address, scheme, host, URL or certificate. */
const IDENTITY_LIKE = new Set([
  'forwarded', 'x-real-ip', 'x-client-ip', 'x-cluster-client-ip', 'true-client-ip', 'cf-connecting-ip', 'client-ip',
  'fastly-client-ip', 'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-arr-clientcert', 'x-men-requestid'
])
const IDENTITY_PREFIXES = ['x-forwarded-', 'x-ssl-', 'ssl-client', 'x-client-cert', 'x-client-verify', 'x-client-dn',
  'x-client-s-dn', 'x-client-i-dn', 'x-tls-', 'x-original-', 'x-envoy-', 'x-amzn-', 'x-mtls-']

/** True when a header the device sent must not reach Mender. Underscore spellings never pass: some servers read
 * `x_forwarded_for` as `x-forwarded-for`. */
export function isDroppedHeader (name: string, connectionTokens: ReadonlySet<string>, keepUpgrade = false): boolean {
  const lower = name.toLowerCase()
  // HTTP/2 pseudo-headers (`:authority`, `:path`, …) describe the device's stream, never Mender's request
  if (lower.includes('_') || lower.startsWith(':')) return true
  if (HOP_BY_HOP.has(lower)) return !(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))
  if (connectionTokens.has(lower)) return true
  return IDENTITY_LIKE.has(lower) || IDENTITY_PREFIXES.some((p) => lower.startsWith(p))
}

/** Drop decisions by header name when the Connection header lists nothing (names repeat from request to request). */
const DROPPED = new Map<string, boolean>()
const DROPPED_MAX = 512
const NO_TOKENS: ReadonlySet<string> = new Set()

function droppedByName (name: string): boolean {
  let dropped = DROPPED.get(name)
  if (dropped === undefined) {
    dropped = isDroppedHeader(name, NO_TOKENS)
    // device-chosen names are unbounded: the memo starts over rather than grow
    if (DROPPED.size >= DROPPED_MAX) DROPPED.clear()
    DROPPED.set(name, dropped)
  }
  return dropped
}

/** Header names listed in a Connection header (lower-case). */
export function connectionTokens (value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : value ?? ''
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '' && t !== 'upgrade'))
}

/** What the header rewrite needs of a request (structural, so it fits every Fastify request flavour). */
export interface ForwardSource {
  id: string
  socket: { remoteAddress?: string | undefined }
  peer?: PeerIdentity | undefined
}

/** Envoy-style XFCC value: `Hash=<sha256>;Serial=<hex>;Subject="<DN>"`. */
export function identityHeaderValue (peer: PeerIdentity): string {
  return `Hash=${peer.fingerprint};Serial=${peer.serial};Subject="${peer.subject.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

export class HeaderRewriter {
  constructor (private readonly forwardIdentity: boolean) {}

  /** The headers the gateway sets (names lowercase); the identity header only when enabled and the peer is known. */
  forwarded (source: ForwardSource): Record<string, string> {
    return this.addForwarded(source, {})
  }

  /** Sets the gateway's own headers on `out`. */
  private addForwarded<T extends Record<string, unknown>> (source: ForwardSource, out: T): T {
    const o = out as Record<string, unknown>
    o['x-men-requestid'] = source.id
    o['x-forwarded-for'] = source.socket.remoteAddress ?? ''
    o['x-forwarded-proto'] = 'https'
    if (this.forwardIdentity && source.peer !== undefined) o[IDENTITY_HEADER] = identityHeaderValue(source.peer)
    return out
  }

  /**
   * An HTTP request's headers as they go upstream, in one new object: dropped ones left out, ours set (Host is the
   * caller's). `headers` keeps its names lower-case, as Node and reply-from give them.
   */
  rewrite<H extends IncomingHttpHeaders> (source: ForwardSource, headers: H, inboundConnection?: string | string[]): H {
    const tokens = inboundConnection === undefined ? undefined : connectionTokens(inboundConnection)
    const out: IncomingHttpHeaders = {}
    for (const name in headers) {
      const dropped = tokens === undefined || tokens.size === 0 ? droppedByName(name) : isDroppedHeader(name, tokens)
      if (name === 'host' || !dropped) out[name] = headers[name]
    }
    return this.addForwarded(source, out) as H
  }

  /** A websocket upgrade's raw headers as they go upstream, in the device's order and spelling, Host replaced. */
  rewriteRaw (source: ForwardSource, rawHeaders: string[], host: string): string[] {
    let connection: string[] = []
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]?.toLowerCase() === 'connection') connection = [...connection, rawHeaders[i + 1] ?? '']
    }
    const tokens = connectionTokens(connection)
    const out = ['Host', host]
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] ?? ''
      if (name.toLowerCase() !== 'host' && !isDroppedHeader(name, tokens, true)) out.push(name, rawHeaders[i + 1] ?? '')
    }
    for (const [name, value] of Object.entries(this.forwarded(source))) out.push(name, value)
    return out
  }
}

/** Connection-specific response headers that describe Mender's connection, not the device's. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer'])
/** What Node refuses in a header value (it would throw while answering): anything but HTAB, SP..~ and obs-text. */
const BAD_VALUE = /[^\t\x20-\x7E\x80-\xFF]/
const BAD_VALUES = /[^\t\x20-\x7E\x80-\xFF]/g

const clean = (v: unknown): unknown => typeof v === 'string' && BAD_VALUE.test(v) ? v.replace(BAD_VALUES, '') : v

/**
 * Mender's response headers in one new object, without hop-by-hop ones (the device's own connection keeps its own
 * semantics) and with characters Node cannot send removed from values (a bad upstream header never fails the answer).
 */
export function responseHeaders<H extends Record<string, unknown>> (headers: H): H {
  const out: Record<string, unknown> = {}
  for (const name in headers) {
    if (RESPONSE_HOP_BY_HOP.has(name)) continue
    const value = headers[name]
    out[name] = Array.isArray(value) ? value.map(clean) : clean(value)
  }
  return out as H
}
