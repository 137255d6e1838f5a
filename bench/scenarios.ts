// The request scenarios of the benchmark, each one wrk run per (target, round): what wrk sends (keep-alive GET and
// PUT with the device token, a new connection per request with full or resumed handshakes, warm and cold auth
// requests), and the measurement around it: the server's process-tree CPU and wrk's own CPU per request or
// handshake, req/s, p50/p99 and the share of resumed handshakes.
import { reapedChildrenCpuMs, sampleTree } from './cpu.js'
import { type Measurement, type ScenarioId } from './results.js'
import { runWrk, wrkScript, type WrkRequest, type WrkResult } from './wrk.js'

export const NEXT_PATH = '/api/devices/v1/deployments/device/deployments/next'
export const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes'
export const AUTH_PATH = '/api/devices/v1/authentication/auth_requests'

export interface BenchTarget {
  name: string
  /** `https://localhost:<port>` or the simulator's `http://127.0.0.1:<port>`. */
  url: string
  tls: boolean
  /** Root of the serving process tree (the simulator for direct). */
  pid: number
}

export interface Identity { cert: string, key: string }
export interface AuthBody { body: Buffer, headers: Record<string, string> }

export interface ScenarioContext {
  token: string
  device: Identity
  warmAuth: AuthBody
  /** Fresh devices for a cold run against `target` in `round`: the shim's list file and the bodies in its order. */
  coldPool: (target: BenchTarget, round: number) => Promise<{ list: string, bodies: AuthBody[] }>
  shim: string
  dir: string
  seconds: number
  warmup: number
  connections: number
}

interface Plan {
  requests: WrkRequest[], connections: number, newConnections: boolean, noResume?: boolean, list?: string
}

const authRequest = (a: AuthBody, close: boolean): WrkRequest => ({
  method: 'POST',
  path: AUTH_PATH,
  headers: { ...a.headers, 'Content-Type': 'application/json', ...(close ? { Connection: 'close' } : {}) },
  body: a.body.toString('utf8')
})

async function plan (id: ScenarioId, t: BenchTarget, round: number, c: ScenarioContext): Promise<Plan> {
  const auth = { Authorization: `Bearer ${c.token}` }
  const get: WrkRequest = { method: 'GET', path: NEXT_PATH, headers: auth }
  const close: WrkRequest = { ...get, headers: { ...auth, Connection: 'close' } }
  switch (id) {
    case 'get': return { requests: [get], connections: c.connections, newConnections: false }
    case 'put': return {
      requests: [{
        method: 'PUT', path: INVENTORY_PATH, headers: { ...auth, 'Content-Type': 'application/json' }, body: '[{"name":"bench","value":"x"}]'
      }],
      connections: c.connections,
      newConnections: false
    }
    case 'full': return { requests: [close], connections: 4, newConnections: true, noResume: true }
    case 'resume': return { requests: [close], connections: 4, newConnections: true }
    case 'auth-warm': return { requests: [authRequest(c.warmAuth, false)], connections: 4, newConnections: false }
    case 'auth-cold': {
      // one connection: request k goes out on handshake k, with the k-th device's certificate
      const pool = await c.coldPool(t, round)
      const requests = pool.bodies.map((b) => authRequest(b, true))
      return { requests, connections: 1, newConnections: true, list: pool.list }
    }
  }
}

async function wrkOnce (t: BenchTarget, p: Plan, c: ScenarioContext, seconds: number): Promise<WrkResult> {
  const tls = !t.tls
    ? undefined
    : {
        cert: p.list === undefined ? c.device.cert : '',
        key: p.list === undefined ? c.device.key : '',
        ...(p.list === undefined ? {} : { list: p.list }),
        ...(p.noResume === true ? { noResume: true } : {})
      }
  return await runWrk({
    url: `${t.url}/`,
    script: wrkScript(p.requests),
    connections: p.connections,
    threads: 1,
    seconds,
    shim: c.shim,
    dir: c.dir,
    ...(tls === undefined ? {} : { tls })
  })
}

/** One measured run of `id` against `t` (after a warm-up run, except cold auth whose devices must stay new). */
export async function measure (
  id: ScenarioId, t: BenchTarget, round: number, c: ScenarioContext
): Promise<Measurement> {
  const p = await plan(id, t, round, c)
  if (c.warmup > 0 && id !== 'auth-cold') await wrkOnce(t, p, c, c.warmup)
  const [server0, client0] = [sampleTree(t.pid).cpuMs, reapedChildrenCpuMs()]
  const r = await wrkOnce(t, p, c, c.seconds)
  const [server1, client1] = [sampleTree(t.pid).cpuMs, reapedChildrenCpuMs()]
  // per handshake when every request has its own connection and the shim counted them, else per request
  const n = Math.max(1, p.newConnections && Number.isFinite(r.handshakes) ? r.handshakes : r.requests)
  return {
    scenario: id,
    target: t.name,
    round,
    serverCpuUs: (server1 - server0) * 1000 / n,
    clientCpuUs: (client1 - client0) * 1000 / n,
    rps: r.requests / Math.max(r.seconds, 1e-3),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    requests: r.requests,
    socketErrors: r.socketErrors,
    statusErrors: r.statusErrors,
    // of the reconnections: each connection's first handshake has no session to resume
    resumedPct: id === 'resume' && r.handshakes > p.connections
      ? Math.min(100, r.resumed / (r.handshakes - p.connections) * 100)
      : NaN
  }
}
