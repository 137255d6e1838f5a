// Device auth request route in Mender's exact order: 415 content type → 400 decode → 400 invalid → 400 missing
// signature → 401 signature (over the raw body bytes) → tenant → the store's state table → 200 bare JWT.
import type { KeyObject } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseIdData } from '../device-auth/identity.js'
import { deviceKeyType, parsePublicKey } from '../device-auth/keys.js'
import { verifyBodySignature } from '../device-auth/signature.js'
import type { SimContext } from './context.js'
import { PATHS, decodeJson, isJsonContentType, isPlainObject, rawBody, sendError } from './http-util.js'

interface AuthRequest { idData: string, pubkey: string, tenantToken?: string }

type Step<T> = { ok: true, value: T } | { ok: false, status: number, message: string }

const fail = <T>(status: number, message: string): Step<T> => ({ ok: false, status, message })

/** Go-style decode into {id_data, pubkey, tenant_token} (strings); unknown fields are ignored. */
function decodeAuthRequest (body: Buffer): Step<AuthRequest> {
  const decoded = decodeJson(body)
  const prefix = 'failed to decode auth request'
  if (!decoded.ok) return fail(400, `${prefix}: ${decoded.message}`)
  if (!isPlainObject(decoded.value)) return fail(400, `${prefix}: expected a JSON object`)
  const v = decoded.value
  for (const field of ['id_data', 'pubkey', 'tenant_token']) {
    if (v[field] !== undefined && v[field] !== null && typeof v[field] !== 'string') {
      return fail(400, `${prefix}: ${field} must be a string`)
    }
  }
  const req: AuthRequest = { idData: (v.id_data as string | null) ?? '', pubkey: (v.pubkey as string | null) ?? '' }
  if (typeof v.tenant_token === 'string') req.tenantToken = v.tenant_token
  return { ok: true, value: req }
}

function validate (req: AuthRequest): Step<{ identity: Record<string, unknown>, key: KeyObject }> {
  const prefix = 'invalid auth request'
  if (req.idData === '') return fail(400, `${prefix}: id_data: cannot be blank`)
  if (req.pubkey === '') return fail(400, `${prefix}: pubkey: cannot be blank`)
  const identity = parseIdData(req.idData)
  if (identity === undefined) return fail(400, `${prefix}: id_data must be a JSON object`)
  let key: KeyObject
  try {
    key = parsePublicKey(req.pubkey)
  } catch {
    return fail(400, `${prefix}: cannot decode public key`)
  }
  if (deviceKeyType(key) === undefined) return fail(400, `${prefix}: unsupported public key type`)
  return { ok: true, value: { identity, key } }
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
  const valid = validate(decoded.value)
  if (!valid.ok) return sendError(reply, valid.status, valid.message)
  const signature = signatureHeader(request)
  if (signature === undefined) return sendError(reply, 400, 'missing request signature header')
  if (!verifyBodySignature(body, signature, valid.value.key)) {
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
