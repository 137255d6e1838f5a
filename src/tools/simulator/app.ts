// Builds the simulator's Fastify app: raw-Buffer bodies for every content type, X-MEN-RequestID on every answer,
// the request log and per-group counts, fault hooks, Mender-shaped 404/errors, and all route modules.
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { SimContext } from './context.js'
import { rawBody, routeGroup, sendError } from './http-util.js'
import { recordRequest } from './inspection.js'
import type { RecordedRequest, SimulatorOptions } from './types.js'
import { registerAuthRoutes } from './routes-auth.js'
import { registerDeviceRoutes } from './routes-device.js'
import { registerLoginRoutes } from './routes-login.js'
import { registerManagementRoutes } from './routes-management.js'

const BODY_LIMIT = 16 * 1024 * 1024

function createFastify (opts: SimulatorOptions): FastifyInstance {
  const app = fastify({
    https: opts.tls === undefined ? null : { cert: opts.tls.cert, key: opts.tls.key },
    logger: opts.logger === true,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: 'x-men-requestid',
    genReqId: () => randomUUID(),
    forceCloseConnections: true
  })
  return app as unknown as FastifyInstance
}

/** Latency, then a pending drop or forced failure; true when the request was answered (or dropped) here. */
async function applyFaults (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const group = routeGroup(request.method, request.url)
  if (group === 'inspection' || group === 'other') return false
  const latency = ctx.faults.latencyOf(group)
  if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency))
  const action = ctx.faults.take(group)
  if (action.kind === 'drop') {
    reply.hijack()
    request.raw.socket.destroy()
  } else if (action.kind === 'html') {
    reply.code(200).type('text/html; charset=utf-8').send('<!doctype html><html><body><h1>Sign in</h1></body></html>\n')
  } else if (action.kind === 'fail') {
    // a forced 429 says when to come back, as Mender's rate limiting does
    if (action.status === 429) reply.header('Retry-After', '3')
    sendError(reply, action.status, (STATUS_CODES[action.status] ?? 'error').toLowerCase())
  }
  return action.kind !== 'none'
}

function addHooks (app: FastifyInstance, ctx: SimContext): void {
  const entries = new WeakMap<FastifyRequest, RecordedRequest>()
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-MEN-RequestID', request.id)
    const group = routeGroup(request.method, request.url)
    if (group === 'inspection') return
    entries.set(request, recordRequest(ctx, request.raw, group))
    if (group !== 'other') {
      ctx.counts[group]++
      ctx.peaks[group] = Math.max(ctx.peaks[group], ++ctx.inFlight[group])
    }
    if (await applyFaults(ctx, request, reply)) return reply
  })
  const settle = (request: FastifyRequest, status: number | undefined): void => {
    const entry = entries.get(request)
    if (entry === undefined || entry.status !== undefined) return
    entry.status = status ?? 0
    if (entry.group !== 'other') ctx.inFlight[entry.group]--
  }
  app.addHook('onResponse', async (request, reply) => { settle(request, reply.statusCode) })
  // a request whose connection went away (a dropped fault, a client that hung up) gets status 0
  app.addHook('onRequestAbort', async (request) => { settle(request, undefined) })
  app.addHook('preHandler', async (request) => {
    const entry = entries.get(request)
    if (entry !== undefined) entry.bodyBytes = rawBody(request)
  })
}

function addParsersAndErrors (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
  app.setNotFoundHandler(async (_request, reply) => sendError(reply, 404, 'not found'))
  app.setErrorHandler(async (error: { statusCode?: number, message?: string }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (status >= 500) request.log.error(error)
    return sendError(reply, status, status >= 500 ? 'internal error' : String(error.message))
  })
}

/** The simulator app with every route registered on `ctx`; `extra` registers more routes (inspection). */
export function buildSimulatorApp (opts: SimulatorOptions, ctx: SimContext,
  extra: (app: FastifyInstance) => void): FastifyInstance {
  const app = createFastify(opts)
  addParsersAndErrors(app)
  addHooks(app, ctx)
  registerLoginRoutes(app, ctx)
  registerManagementRoutes(app, ctx)
  registerAuthRoutes(app, ctx)
  registerDeviceRoutes(app, ctx)
  extra(app)
  return app
}
