// Device routes behind a device JWT: inventory attributes (PUT replaces, PATCH merges), deployments next
// (v2 → 404 like the open-source server, v1 → 204 no deployment), deployment status and log.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from './context.js'
import { parseAttributes, parseDeploymentLog, parseDeploymentStatus } from './device-data.js'
import { PATHS, jsonBodyOr400, sendError } from './http-util.js'

type DeploymentParams = { Params: { id: string } }

/** The device id of a valid device token, or undefined after answering 401/403. */
function authorizeDevice (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): string | undefined {
  const check = ctx.tokens.checkDevice(request.headers.authorization)
  if (!check.ok) {
    sendError(reply, check.status, check.message)
    return undefined
  }
  const deviceId = String(check.claims.sub)
  const device = ctx.store.get(deviceId)
  if (device !== undefined) device.checkInTime = new Date().toISOString()
  return deviceId
}

async function attributes (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const deviceId = authorizeDevice(ctx, request, reply)
  if (deviceId === undefined) return reply
  const decoded = jsonBodyOr400(request, reply, 'failed to decode request body')
  if (!decoded.ok) return reply
  const list = parseAttributes(decoded.value)
  if (typeof list === 'string') return sendError(reply, 400, list)
  if (request.method === 'PUT') ctx.data.replaceAttributes(deviceId, list)
  else ctx.data.mergeAttributes(deviceId, list)
  return reply.code(200).send()
}

async function status (
  ctx: SimContext, request: FastifyRequest<DeploymentParams>, reply: FastifyReply
): Promise<FastifyReply> {
  const deviceId = authorizeDevice(ctx, request, reply)
  if (deviceId === undefined) return reply
  const decoded = jsonBodyOr400(request, reply, 'failed to decode request body')
  if (!decoded.ok) return reply
  const parsed = parseDeploymentStatus(decoded.value)
  if (typeof parsed === 'string') return sendError(reply, 400, parsed)
  ctx.data.statuses.push({ deviceId, deploymentId: request.params.id, ...parsed, at: new Date().toISOString() })
  return reply.code(204).send()
}

async function log (
  ctx: SimContext, request: FastifyRequest<DeploymentParams>, reply: FastifyReply
): Promise<FastifyReply> {
  const deviceId = authorizeDevice(ctx, request, reply)
  if (deviceId === undefined) return reply
  const decoded = jsonBodyOr400(request, reply, 'failed to decode request body')
  if (!decoded.ok) return reply
  const messages = parseDeploymentLog(decoded.value)
  if (typeof messages === 'string') return sendError(reply, 400, messages)
  ctx.data.logs.push({ deviceId, deploymentId: request.params.id, messages, at: new Date().toISOString() })
  return reply.code(204).send()
}

export function registerDeviceRoutes (app: FastifyInstance, ctx: SimContext): void {
  app.route({
    method: ['PUT', 'PATCH'],
    url: PATHS.inventory,
    handler: async (request, reply) => await attributes(ctx, request, reply)
  })
  app.post(PATHS.nextV2, async (request, reply) => {
    if (authorizeDevice(ctx, request, reply) === undefined) return reply
    return sendError(reply, 404, 'Resource not found')
  })
  app.route({
    method: ['GET', 'POST'],
    url: PATHS.nextV1,
    handler: async (request, reply) => {
      if (authorizeDevice(ctx, request, reply) === undefined) return reply
      return reply.code(204).send()
    }
  })
  app.put<DeploymentParams>(`${PATHS.deployments}/:id/status`, async (request, reply) => await status(ctx, request, reply))
  app.put<DeploymentParams>(`${PATHS.deployments}/:id/log`, async (request, reply) => await log(ctx, request, reply))
}
