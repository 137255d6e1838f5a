// HTTP helpers shared by the simulator's routes: Mender-shaped error replies, raw-body access and JSON decoding,
// and the classification of a request into its fault/route group.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FaultGroup } from './faults.js'
import { goUnmarshal } from './go-json.js'

export const PATHS = {
  login: '/api/management/v1/useradm/auth/login',
  tokens: '/api/management/v1/useradm/settings/tokens',
  devices: '/api/management/v2/devauth/devices',
  authRequests: '/api/devices/v1/authentication/auth_requests',
  inventory: '/api/devices/v1/inventory/device/attributes',
  nextV1: '/api/devices/v1/deployments/device/deployments/next',
  nextV2: '/api/devices/v2/deployments/device/deployments/next',
  deployments: '/api/devices/v1/deployments/device/deployments',
  connect: '/api/devices/v1/deviceconnect/connect',
  inspection: '/__sim'
} as const

/** Sends `{"error", "request_id"}` with `status`. */
export function sendError (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8')
    .send({ error: message, request_id: reply.request.id })
}

/** The raw request body (empty when there was none). */
export function rawBody (request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
}

export type JsonResult = { ok: true, value: unknown } | { ok: false, message: string }

/** Decodes a body as Go's encoding/json would (empty body → error, like Go's decoder at EOF). */
export function decodeJson (body: Buffer): JsonResult {
  if (body.length === 0) return { ok: false, message: 'EOF' }
  const decoded = goUnmarshal(body)
  return decoded.ok ? { ok: true, value: decoded.value } : { ok: false, message: decoded.message }
}

/** Decodes the body, answering 400 `<prefix>: <reason>` when it is not JSON; undefined means answered. */
export function jsonBodyOr400 (request: FastifyRequest, reply: FastifyReply, prefix: string): JsonResult {
  const result = decodeJson(rawBody(request))
  if (!result.ok) sendError(reply, 400, `${prefix}: ${result.message}`)
  return result
}

export function isJsonContentType (contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase()
  return type === 'application/json'
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** The fault/route group of a request; 'inspection' for /__sim, 'other' for anything unknown. */
export function routeGroup (method: string, url: string): FaultGroup | 'inspection' | 'other' {
  const path = url.split('?')[0] ?? ''
  if (path === PATHS.inspection || path.startsWith(`${PATHS.inspection}/`)) return 'inspection'
  if (path === PATHS.login) return 'login'
  if (path === PATHS.devices && method === 'POST') return 'preauth'
  if (path === PATHS.authRequests) return 'auth_requests'
  if (path === PATHS.connect) return 'websocket'
  if (path.startsWith('/api/devices/')) return 'device'
  if (path.startsWith('/api/management/')) return 'management'
  return 'other'
}
