// Inspection of the simulator: the request log, device views and state snapshot (in process), and the same over
// HTTP under /__sim (GET state, GET requests, POST reset, GET/PUT/PATCH/DELETE faults).
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { SimContext } from './context.js'
import { faultConfigProblems, type FaultConfig, type FaultGroup } from './faults.js'
import { PATHS, decodeJson, rawBody, sendError } from './http-util.js'
import { deviceStatus, type DeviceRecord } from './store.js'
import type { DeviceView, RecordedRequest, SimulatorSnapshot, SimulatorState } from './types.js'

/** Appends a request to the log (body filled in later for parsed requests), dropping the oldest beyond the limit. */
export function recordRequest (ctx: SimContext, req: IncomingMessage, group: FaultGroup | 'other'): RecordedRequest {
  const entry: RecordedRequest = {
    seq: ++ctx.requestSeq,
    method: req.method ?? '',
    url: req.url ?? '',
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    bodyBytes: Buffer.alloc(0),
    group
  }
  ctx.requests.push(entry)
  const excess = ctx.requests.length - ctx.requestLogLimit
  if (excess > 0) ctx.requests.splice(0, excess)
  return entry
}

function deviceView (ctx: SimContext, d: DeviceRecord): DeviceView {
  const view: DeviceView = {
    id: d.id,
    tenant: d.tenant,
    identity: structuredClone(d.identity),
    status: deviceStatus(d),
    createdTs: d.createdTs,
    updatedTs: d.updatedTs,
    authSets: d.authSets.map((a) => ({ id: a.id, status: a.status, pubkey: a.pubkey, ts: a.ts })),
    attributes: structuredClone(ctx.data.attributesOf(d.id))
  }
  if (d.checkInTime !== undefined) view.checkInTime = d.checkInTime
  return view
}

export function createState (ctx: SimContext): SimulatorState {
  const state: SimulatorState = {
    devices: (tenant) => ctx.store.list(tenant).map((d) => deviceView(ctx, d)),
    device: (id) => {
      const d = ctx.store.get(id)
      return d === undefined ? undefined : deviceView(ctx, d)
    },
    deviceByIdentity: (identity, tenant = '') => {
      const d = ctx.store.findByIdentity(tenant, identity)
      return d === undefined ? undefined : deviceView(ctx, d)
    },
    connections: () => structuredClone(ctx.data.connections),
    deploymentStatuses: () => structuredClone(ctx.data.statuses),
    deploymentLogs: () => structuredClone(ctx.data.logs),
    issued: () => ({ ...ctx.tokens.issued }),
    setAuthSetStatus: (deviceId, authSetId, status) => ctx.store.setAuthSetStatus(deviceId, authSetId, status),
    snapshot: (): SimulatorSnapshot => ({
      devices: state.devices(),
      connections: state.connections(),
      deploymentStatuses: state.deploymentStatuses(),
      deploymentLogs: state.deploymentLogs(),
      counts: { ...ctx.counts },
      issued: state.issued(),
      faults: ctx.faults.get(),
      requests: ctx.requests.length
    })
  }
  return state
}

function requestJson (r: RecordedRequest): Record<string, unknown> {
  return {
    seq: r.seq,
    method: r.method,
    url: r.url,
    group: r.group,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.bodyBytes.toString('utf8'),
    bodyBase64: r.bodyBytes.toString('base64')
  }
}

/** Registers the /__sim routes; `reset` is the simulator's full reset. */
export function registerInspectionRoutes (app: FastifyInstance, ctx: SimContext, state: SimulatorState,
  reset: () => void): void {
  const base = PATHS.inspection
  app.get(`${base}/state`, async () => state.snapshot())
  app.get<{ Querystring: { since?: string } }>(`${base}/requests`, async (request) => {
    const since = Number(request.query.since ?? 0)
    return ctx.requests.filter((r) => r.seq > since).map(requestJson)
  })
  app.post(`${base}/reset`, async (_request, reply) => {
    reset()
    return reply.code(204).send()
  })
  app.get(`${base}/faults`, async () => ctx.faults.get())
  app.delete(`${base}/faults`, async (_request, reply) => {
    ctx.faults.clear()
    return reply.code(204).send()
  })
  app.route({
    method: ['PUT', 'PATCH'],
    url: `${base}/faults`,
    handler: async (request, reply) => {
      const decoded = decodeJson(rawBody(request))
      const problems = decoded.ok ? faultConfigProblems(decoded.value) : [`invalid JSON: ${decoded.message}`]
      if (problems.length > 0 || !decoded.ok) return sendError(reply, 400, problems.join('; '))
      if (request.method === 'PUT') ctx.faults.set(decoded.value as FaultConfig)
      else ctx.faults.update(decoded.value as FaultConfig)
      return ctx.faults.get()
    }
  })
}
