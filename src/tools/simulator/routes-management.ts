// devauth v2 management routes behind a user JWT: preauthorize (201/409/force), list, get, count, decommission,
// auth-set status and removal. Every call is scoped to the tenant of the caller's token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from './context.js'
import { PATHS, isPlainObject, jsonBodyOr400, sendError } from './http-util.js'
import { deviceStatus, type DeviceRecord } from './store.js'
import { parseDevicePubkey } from './go-keys.js'
import type { KeyObject } from 'node:crypto'

type IdParams = { Params: { id: string } }
type AuthParams = { Params: { id: string, aid: string } }

/** The Mender device object; `withAuthSets: false` gives `auth_sets: null` like the 409 body. */
export function deviceJson (d: DeviceRecord, withAuthSets = true): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: d.id,
    identity_data: d.identity,
    status: deviceStatus(d),
    decommissioning: false,
    created_ts: d.createdTs,
    updated_ts: d.updatedTs,
    auth_sets: withAuthSets
      ? d.authSets.map((a) => ({
        id: a.id, device_id: d.id, identity_data: d.identity, pubkey: a.pubkey, status: a.status, ts: a.ts
      }))
      : null
  }
  if (d.checkInTime !== undefined) out.check_in_time = d.checkInTime
  return out
}

/** Tenant of the caller, or undefined after answering 401. */
function authorize (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): string | undefined {
  const claims = ctx.tokens.checkManagement(request.headers.authorization)
  if (claims === undefined) {
    sendError(reply, 401, 'unauthorized')
    return undefined
  }
  return ctx.tenantOf(claims)
}

type Preauth = { identity: Record<string, unknown>, key: KeyObject, force: boolean }

function parsePreauth (value: unknown): Preauth | string {
  if (!isPlainObject(value)) return 'expected a JSON object'
  const { identity_data: identity, pubkey, force } = value
  if (!isPlainObject(identity)) return 'identity_data: must be a JSON object'
  if (typeof pubkey !== 'string' || pubkey === '') return 'pubkey: cannot be blank'
  if (force !== undefined && typeof force !== 'boolean') return 'force: must be a boolean'
  const key = parseDevicePubkey(pubkey)
  return key === undefined ? 'pubkey: cannot decode public key' : { identity, key, force: force === true }
}

async function preauthorize (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const tenant = authorize(ctx, request, reply)
  if (tenant === undefined) return reply
  const decoded = jsonBodyOr400(request, reply, 'failed to decode preauth request')
  if (!decoded.ok) return reply
  const parsed = parsePreauth(decoded.value)
  if (typeof parsed === 'string') return sendError(reply, 400, `failed to decode preauth request: ${parsed}`)
  const result = ctx.store.preauthorize(tenant, parsed.identity, parsed.key, parsed.force)
  if (result.outcome === 'conflict') return reply.code(409).send(deviceJson(result.device, false))
  return reply.code(201).header('Location', `devices/${result.device.id}`).send()
}

function listDevices (ctx: SimContext, tenant: string, query: Record<string, unknown>): DeviceRecord[] | string {
  const page = Number(query.page ?? 1)
  const perPage = Number(query.per_page ?? 20)
  if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1 || perPage > 500) {
    return 'invalid pagination parameters'
  }
  const ids = query.id === undefined ? undefined : ([] as unknown[]).concat(query.id).map(String)
  const status = query.status
  const all = ctx.store.list(tenant)
    .filter((d) => status === undefined || deviceStatus(d) === status)
    .filter((d) => ids === undefined || ids.includes(d.id))
  return all.slice((page - 1) * perPage, page * perPage)
}

function registerDeviceReads (app: FastifyInstance, ctx: SimContext): void {
  app.get<{ Querystring: Record<string, unknown> }>(PATHS.devices, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const list = listDevices(ctx, tenant, request.query)
    if (typeof list === 'string') return sendError(reply, 400, list)
    return list.map((d) => deviceJson(d))
  })
  app.get<{ Querystring: { status?: string } }>(`${PATHS.devices}/count`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const status = request.query.status
    return { count: ctx.store.list(tenant).filter((d) => status === undefined || deviceStatus(d) === status).length }
  })
  app.get<IdParams>(`${PATHS.devices}/:id`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const device = ctx.store.get(request.params.id, tenant)
    return device === undefined ? sendError(reply, 404, 'device not found') : deviceJson(device)
  })
  app.get<AuthParams>(`${PATHS.devices}/:id/auth/:aid/status`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const set = ctx.store.get(request.params.id, tenant)?.authSets.find((a) => a.id === request.params.aid)
    return set === undefined ? sendError(reply, 404, 'authentication set not found') : { status: set.status }
  })
}

function registerDeviceWrites (app: FastifyInstance, ctx: SimContext): void {
  app.post(PATHS.devices, async (request, reply) => await preauthorize(ctx, request, reply))
  app.delete<IdParams>(`${PATHS.devices}/:id`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    if (!ctx.store.deleteDevice(request.params.id, tenant)) return reply.code(404).send()
    ctx.data.forgetDevice(request.params.id)
    return reply.code(204).send()
  })
  app.delete<AuthParams>(`${PATHS.devices}/:id/auth/:aid`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const { id, aid } = request.params
    return ctx.store.deleteAuthSet(id, aid, tenant) ? reply.code(204).send() : sendError(reply, 404, 'not found')
  })
  app.put<AuthParams>(`${PATHS.devices}/:id/auth/:aid/status`, async (request, reply) => {
    const tenant = authorize(ctx, request, reply)
    if (tenant === undefined) return reply
    const decoded = jsonBodyOr400(request, reply, 'failed to decode status')
    if (!decoded.ok) return reply
    const status = isPlainObject(decoded.value) ? decoded.value.status : undefined
    if (status !== 'accepted' && status !== 'rejected' && status !== 'pending') {
      return sendError(reply, 400, 'invalid status: must be one of accepted, rejected, pending')
    }
    const { id, aid } = request.params
    const changed = ctx.store.setAuthSetStatus(id, aid, status, tenant)
    return changed ? reply.code(204).send() : sendError(reply, 404, 'device or authentication set not found')
  })
}

export function registerManagementRoutes (app: FastifyInstance, ctx: SimContext): void {
  registerDeviceReads(app, ctx)
  registerDeviceWrites(app, ctx)
}
