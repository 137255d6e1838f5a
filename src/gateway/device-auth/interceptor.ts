// The auth-request interceptor: every method on the auth path lands here. The raw body (bounded) is checked,
// the certificate key must be the request key, the device is preauthorized, and only then do the ORIGINAL bytes
// go to Mender, whose answer returns unchanged. Any refusal forwards nothing.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import rateLimit from '@fastify/rate-limit'
import type { Dispatcher } from 'undici'
import { LogCodes, HttpErrors } from '../../errors.js'
import { sendError } from '../error-reply.js'
import { peerLog, peerSpki, type PeerIdentity } from '../../tls/peer.js'
import { responseHeaders, type HeaderRewriter } from '../proxy/headers.js'
import { answerUpstreamError } from '../proxy/upstream-answer.js'
import { identityHash } from './identity.js'
import { parseAuthRequest, type AuthRequest } from './parse.js'
import { sameKey } from './keys.js'
import { checkBinding, type BindingMode } from './binding.js'
import type { Preauthorizer } from './preauthorizer.js'
import { AUTH_PATH } from '../mender/paths.js'
import { retryDelay } from '../proxy/retry.js'

export { AUTH_PATH }

export interface InterceptorOptions {
  backend: string
  dispatcher: Dispatcher
  bodyLimit: number
  keyMatch: 'strict' | 'relaxed'
  /** Per tenant: its preauthorizer and the tenant token its devices must send ('' = unchecked). */
  tenants: Map<string, { preauthorizer: Pick<Preauthorizer, 'ensure' | 'forget'>, tenantToken: string }>
  binding: { mode: BindingMode, keys: string[] }
  headers: HeaderRewriter
  /** Auth requests allowed per certificate fingerprint per window (0: no limit). */
  rateLimit: { max: number, windowMs: number }
  /** Called once per auth request with the decision and, for refusals, the reason code (metrics). */
  onDecision?: (decision: string, reason: string) => void
}

export async function authInterceptor (app: FastifyInstance, o: InterceptorOptions): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: o.bodyLimit }, (_req, body, done) => { done(null, body) })
  await app.register(replyFrom, { base: o.backend, undici: o.dispatcher, disableRequestLogging: true })
  if (o.rateLimit.max > 0) {
    // scoped to this plugin: only the auth route is limited, per certificate (not per address: devices share NATs)
    await app.register(rateLimit, {
      max: o.rateLimit.max,
      timeWindow: o.rateLimit.windowMs,
      keyGenerator: (request) => request.peer?.fingerprint ?? request.ip,
      errorResponseBuilder: () => new HttpErrors.RATE_LIMITED()
    })
  }

  app.all(AUTH_PATH, async (request, reply) => await handleAuthRequest(o, request, reply))
}

/** Checks, preauthorizes and forwards one auth request; any refusal answers in Mender's shape and forwards nothing. */
async function handleAuthRequest (
  o: InterceptorOptions, request: FastifyRequest, reply: FastifyReply
): Promise<FastifyReply> {
  const peer = request.peer
  try {
    if (peer === undefined) throw new HttpErrors.UNAUTHENTICATED()
    if (request.method !== 'POST') throw new HttpErrors.METHOD_NOT_ALLOWED()
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const auth = parseAuthRequest(body, request.headers['content-type'], header(request, 'x-men-signature'))
    checkKeyBinding(request, peer, auth, o.keyMatch)
    checkIdentityBinding(request, peer, auth, o.binding)
    const tenant = o.tenants.get(peer.tenant)
    if (tenant === undefined) throw new HttpErrors.UNAUTHENTICATED()
    if (tenant.tenantToken !== '' && !sameToken(auth.tenantToken ?? '', tenant.tenantToken)) throw new HttpErrors.AUTH_TENANT_TOKEN()
    const decision = await tenant.preauthorizer.ensure(auth.identity, auth.spki, auth.pubkeyPem)
    decisionLog(request, peer, auth, decision)
    o.onDecision?.(decision, '')
    // a 401 for a pair we preauthorized means Mender no longer has it: the next attempt preauthorizes again
    return forward(o, request, reply, body, () => { tenant.preauthorizer.forget(auth.identity, auth.spki) })
  } catch (err) {
    const code = (err as { code?: string }).code
    request.log.warn({ event: 'auth_decision', decision: 'refused', code, device: peerLog(peer) }, 'auth request refused')
    o.onDecision?.('refused', code ?? 'unknown')
    return sendError(request, reply, err)
  }
}

/** The original bytes to Mender; its answer back unchanged (but for hop-by-hop headers). */
function forward (
  o: InterceptorOptions, request: FastifyRequest, reply: FastifyReply, body: Buffer, onRefused: () => void
): FastifyReply {
  return reply.from(AUTH_PATH, {
    retryDelay,
    onResponse: (_request, _reply, res) => {
      if (res.statusCode === 401) onRefused()
      reply.send(res.stream)
    },
    body,
    contentType: request.headers['content-type'] ?? 'application/json',
    rewriteRequestHeaders: (_req, headers) => o.headers.rewrite(request, headers),
    rewriteHeaders: (headers) => responseHeaders(headers),
    onError: (_reply, { error }) => { answerUpstreamError(request, reply, error) }
  })
}

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function checkKeyBinding (request: FastifyRequest, peer: PeerIdentity, auth: AuthRequest, mode: 'strict' | 'relaxed'): void {
  if (sameKey(peerSpki(peer), auth.spki)) return
  if (mode === 'strict') throw new HttpErrors.AUTH_KEY_MISMATCH()
  request.log.warn({ code: LogCodes.KEY_MISMATCH_ALLOWED, device: peerLog(peer) }, 'certificate key differs from auth request key (relaxed mode)')
}

/** Constant-time comparison of tenant tokens (they are credentials). */
function sameToken (a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest()
  const y = createHash('sha256').update(b).digest()
  return timingSafeEqual(x, y)
}

function checkIdentityBinding (request: FastifyRequest, peer: PeerIdentity, auth: AuthRequest, b: InterceptorOptions['binding']): void {
  if (b.mode === 'off') return
  const result = checkBinding(auth.identity, peer.names, b.keys)
  if (result.ok) return
  if (b.mode === 'enforce') throw new HttpErrors.IDENTITY_MISMATCH()
  request.log.warn({ code: LogCodes.IDENTITY_MISMATCH, mismatched: result.mismatched, identity: auth.identity, device: peerLog(peer) }, 'claimed identity not in the certificate (warn mode)')
}

function decisionLog (request: FastifyRequest, peer: PeerIdentity, auth: AuthRequest, decision: string): void {
  request.log.info({
    event: 'auth_decision',
    decision,
    identity: auth.identity,
    identityHash: identityHash(auth.identity),
    keyType: auth.keyType,
    device: peerLog(peer)
  }, `device preauthorization: ${decision}`)
}
