// Device auth request route in Mender's exact order: 415 content type → 400 decode → 400 invalid → 400 missing
// signature → 401 signature (over the raw body bytes) → tenant → the store's state table → 200 bare JWT.
// The body is decoded by Go's rules (go-json.ts) and the key read as Go's pem/x509 do (go-keys.ts), independently
// of the ambassador's own code.
import type { KeyObject } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from './context.js'
import { goUnmarshal, goUnmarshalStrings } from './go-json.js'
import { parseDevicePubkey, simKeyType, verifyAuthSignature } from './go-keys.js'
import { PATHS, isJsonContentType, isPlainObject, rawBody, sendError } from './http-util.js'

export interface AuthRequest { idData: string, pubkey: string, tenantToken?: string }

export type Step<T> = { ok: true, value: T } | { ok: false, status: number, message: string }

const fail = <T>(status: number, message: string): Step<T> => ({ ok: false, status, message })

const AUTH_REQ_FIELDS = ['id_data', 'tenant_token', 'pubkey'] as const

/** Mender's json.Unmarshal into model.AuthReq (string fields id_data, tenant_token, pubkey). */
export function decodeAuthRequest (body: Buffer): Step<AuthRequest> {
  const decoded = goUnmarshalStrings(body, 'model.AuthReq', AUTH_REQ_FIELDS)
  if (!decoded.ok) return fail(400, `failed to decode auth request: ${decoded.message}`)
  const v = decoded.value
  const req: AuthRequest = { idData: v.id_data, pubkey: v.pubkey }
  if (v.tenant_token !== '') req.tenantToken = v.tenant_token
  return { ok: true, value: req }
}

/** AuthReq.Validate: both fields present, id_data a JSON object (JsonSort), pubkey a PUBLIC KEY Mender reads. */
export function validateAuthRequest (req: AuthRequest): Step<{ identity: Record<string, unknown>, key: KeyObject }> {
  const prefix = 'invalid auth request'
  if (req.idData === '') return fail(400, `${prefix}: id_data: cannot be blank`)
  if (req.pubkey === '') return fail(400, `${prefix}: pubkey: cannot be blank`)
  const identity = goUnmarshal(Buffer.from(req.idData, 'utf8'))
  if (!identity.ok || !isPlainObject(identity.value)) return fail(400, `${prefix}: id_data must be a JSON object`)
  const key = parseDevicePubkey(req.pubkey)
  if (key === undefined) return fail(400, `${prefix}: cannot decode public key`)
  if (simKeyType(key) === undefined) return fail(400, `${prefix}: unsupported public key type`)
  return { ok: true, value: { identity: identity.value, key } }
}

function signatureHeader (request: FastifyRequest): string | undefined {
  const h = request.headers['x-men-signature']
  const value = Array.isArray(h) ? h[0] : h
  return value === undefined || value === '' ? undefined : value
}

/** The tenant the request authenticates into; undefined when the tenant token is not accepted. */
function tenantFor (ctx: SimContext, token: string | undefined): string | undefined {
  if (!ctx.multiTenant) return ''
  return token === undefined ? undefined : ctx.tenantTokens.get(token)
}

async function authRequest (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!isJsonContentType(request.headers['content-type'])) {
    return sendError(reply, 415, 'unsupported content type: expected application/json')
  }
  const body = rawBody(request)
  const decoded = decodeAuthRequest(body)
  if (!decoded.ok) return sendError(reply, decoded.status, decoded.message)
  const valid = validateAuthRequest(decoded.value)
  if (!valid.ok) return sendError(reply, valid.status, valid.message)
  const signature = signatureHeader(request)
  if (signature === undefined) return sendError(reply, 400, 'missing request signature header')
  if (!verifyAuthSignature(body, signature, valid.value.key)) {
    return sendError(reply, 401, 'signature verification failed')
  }
  const tenant = tenantFor(ctx, decoded.value.tenantToken)
  if (tenant === undefined) return sendError(reply, 401, 'dev auth: unauthorized')
  const result = ctx.store.authenticate(tenant, valid.value.identity, valid.value.key)
  if (result.outcome !== 'accepted') return sendError(reply, 401, 'dev auth: unauthorized')
  const token = ctx.tokens.issueDevice(result.device.id, result.authSet.id, tenant)
  return reply.code(200).type('application/jwt').send(token)
}

export function registerAuthRoutes (app: FastifyInstance, ctx: SimContext): void {
  app.post(PATHS.authRequests, async (request, reply) => await authRequest(ctx, request, reply))
}
