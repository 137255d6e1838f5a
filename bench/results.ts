// The benchmark's figures and their evaluation, pure: measurements per (scenario, target, round), medians over
// rounds, the gateway's ratios against HAProxy, nginx and the bare Node server, and the targets (met or not).
export const GATEWAY = 'gateway'
export const HAPROXY = 'HAProxy'
export const NGINX = 'nginx'
export const BARE = 'bare Node'
export const DIRECT = 'simulator direct'
export const REFERENCES = [HAPROXY, NGINX, BARE] as const

export type ScenarioId = 'get' | 'put' | 'full' | 'resume' | 'auth-warm' | 'auth-cold'

export const SCENARIOS: Record<ScenarioId, { label: string, unit: 'request' | 'handshake' }> = {
  get: { label: 'keep-alive GET', unit: 'request' },
  put: { label: 'keep-alive PUT', unit: 'request' },
  full: { label: 'full handshake + GET', unit: 'handshake' },
  resume: { label: 'resumed handshake + GET', unit: 'handshake' },
  'auth-warm': { label: 'auth request, warm (same device)', unit: 'request' },
  'auth-cold': { label: 'auth request, cold (new device + handshake)', unit: 'request' }
}

export interface Measurement {
  scenario: ScenarioId
  target: string
  round: number
  /** Server process tree CPU per request (or handshake), µs; the load generator's likewise. */
  serverCpuUs: number
  clientCpuUs: number
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  socketErrors: number
  statusErrors: number
  /** Share of handshakes that resumed a session, % (NaN when not counted). */
  resumedPct: number
}

export interface Summary {
  scenario: ScenarioId
  target: string
  serverCpuUs: number
  clientCpuUs: number
  rps: number
  p50Ms: number
  p99Ms: number
  resumedPct: number
  socketErrors: number
  statusErrors: number
  /** Server CPU µs per round, in round order. */
  perRound: number[]
}

export function median (values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? NaN : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}

/** Medians over rounds per (scenario, target), in first-seen order. */
export function summarize (ms: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>()
  for (const m of ms) {
    const key = `${m.scenario}\u0000${m.target}`
    groups.set(key, [...(groups.get(key) ?? []), m])
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as Measurement
    const med = (k: keyof Measurement): number => median(g.map((m) => m[k] as number))
    return {
      scenario: first.scenario,
      target: first.target,
      serverCpuUs: med('serverCpuUs'),
      clientCpuUs: med('clientCpuUs'),
      rps: med('rps'),
      p50Ms: med('p50Ms'),
      p99Ms: med('p99Ms'),
      resumedPct: med('resumedPct'),
      socketErrors: g.reduce((n, m) => n + m.socketErrors, 0),
      statusErrors: g.reduce((n, m) => n + m.statusErrors, 0),
      perRound: [...g].sort((a, b) => a.round - b.round).map((m) => m.serverCpuUs)
    }
  })
}

/** a / b when both are positive finite numbers, else NaN. */
export function ratio (a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? a / b : NaN
}

/** The gateway's server-CPU ratio against `reference` in `scenario` (above 1: the gateway spends more). */
export function cpuRatio (s: Summary[], scenario: ScenarioId, reference: string): number {
  const of = (t: string): number => s.find((x) => x.scenario === scenario && x.target === t)?.serverCpuUs ?? NaN
  return ratio(of(GATEWAY), of(reference))
}

export interface MemoryResult {
  target: string
  baselineKiB: number
  levels: Array<{ connections: number, kibPerConnection: number, rssKiB: number, errors: number }>
  /** RSS once every client connection has closed and the server had time to settle. */
  afterCloseKiB: number
}

/** Share (%) of the memory the largest level added that was given back after close (100: back to baseline). */
export function returnedPct (m: MemoryResult): number {
  const peak = m.levels.at(-1)?.rssKiB ?? NaN
  const added = peak - m.baselineKiB
  if (!Number.isFinite(added) || added <= 0) return NaN
  return Math.max(0, Math.min(100, (peak - m.afterCloseKiB) / added * 100))
}

export interface TunnelResult {
  name: string, mibPerS: number, cpuMsPerMib: number, connPerS: number, pairCpuUsPerConn: number
}
export const TUNNEL_OURS = 'mtls-ambassador pair'
export const TUNNEL_HAPROXY = 'HAProxy pair'
export const TUNNEL_STUNNEL = 'stunnel pair'

export interface WorkersResult {
  cores: number
  one: { rps: number, serverCpuUs: number, cpuCores: number }
  all: { rps: number, serverCpuUs: number, cpuCores: number, workers: string }
}

export interface Results {
  summaries: Summary[]
  memory: MemoryResult[]
  tunnel: TunnelResult[]
  workers?: WorkersResult
}

export interface TargetCheck {
  target: string
  measured: string
  /** The figure compared with the limit (a ratio, or µs for the absolute target). */
  value: number
  limit: string
  /** undefined when not measured. */
  met: boolean | undefined
}

const x = (n: number): string => Number.isFinite(n) ? `${n.toFixed(2)}×` : 'not measured'
type Ok = (v: number) => boolean
const check = (target: string, measured: string, value: number, limit: string, ok: Ok): TargetCheck =>
  ({ target, measured, value, limit, met: Number.isFinite(value) ? ok(value) : undefined })

function memoryChecks (r: Results): TargetCheck[] {
  const perConn = (t: string): number => r.memory.find((m) => m.target === t)?.levels.at(-1)?.kibPerConnection ?? NaN
  const gw = r.memory.find((m) => m.target === GATEWAY)
  const mem = ratio(perConn(GATEWAY), perConn(BARE))
  const back = gw === undefined ? NaN : returnedPct(gw)
  return [
    check('idle memory per connection ≤ 1.2× bare Node', `${x(mem)} (${perConn(GATEWAY).toFixed(1)} vs ${perConn(BARE).toFixed(1)} KiB)`,
      mem, '≤ 1.2×', (v) => v <= 1.2),
    check('memory back to baseline after close', Number.isFinite(back) ? `${back.toFixed(0)} % returned` : 'not measured',
      back, '≥ 90 % returned', (v) => v >= 90)
  ]
}

function tunnelChecks (r: Results): TargetCheck[] {
  const mib = (n: string): number => r.tunnel.find((t) => t.name === n)?.mibPerS ?? NaN
  const vsH = ratio(mib(TUNNEL_OURS), mib(TUNNEL_HAPROXY))
  const vsS = ratio(mib(TUNNEL_OURS), mib(TUNNEL_STUNNEL))
  return [
    check('tunnel bulk ≥ 0.9× HAProxy', x(vsH), vsH, '≥ 0.9×', (v) => v >= 0.9),
    check('tunnel bulk ≥ 0.9× stunnel', x(vsS), vsS, '≥ 0.9×', (v) => v >= 0.9)
  ]
}

/** The targets against this run's figures. */
export function evaluateTargets (r: Results): TargetCheck[] {
  const s = r.summaries
  const ka = cpuRatio(s, 'get', HAPROXY)
  const full = cpuRatio(s, 'full', BARE)
  const res = cpuRatio(s, 'resume', BARE)
  const resumed = s.find((x) => x.scenario === 'resume' && x.target === GATEWAY)?.resumedPct ?? NaN
  const warm = s.find((x) => x.scenario === 'auth-warm' && x.target === GATEWAY)?.serverCpuUs ?? NaN
  const w = r.workers === undefined ? NaN : ratio(r.workers.all.rps, r.workers.one.rps)
  return [
    check('keep-alive CPU/request ≤ 2× HAProxy', x(ka), ka, '≤ 2×', (v) => v <= 2),
    check('full-handshake CPU ≤ 1.1× bare Node', x(full), full, '≤ 1.1×', (v) => v <= 1.1),
    check('resumed handshakes 100 % resumed', Number.isFinite(resumed) ? `${resumed.toFixed(1)} %` : 'not measured',
      resumed, '100 %', (v) => v >= 99.95),
    check('resumed-handshake CPU ≤ 1.2× bare Node', x(res), res, '≤ 1.2×', (v) => v <= 1.2),
    check('auth request CPU ≤ 600 µs (warm)', Number.isFinite(warm) ? `${warm.toFixed(0)} µs` : 'not measured',
      warm, '≤ 600 µs', (v) => v <= 600),
    ...memoryChecks(r),
    ...tunnelChecks(r),
    check('all workers ≥ 1.7× one worker (req/s)', r.workers === undefined ? 'not measured' : `${x(w)} with ${r.workers.all.workers} on ${r.workers.cores} cores`,
      w, '≥ 1.7×', (v) => v >= 1.7)
  ]
}

export interface Bar { label: string, value: number, limit?: number }

/** The chart's bars: the gateway's CPU ratio against each reference per scenario, and the other targets' ratios. */
export function chartBars (r: Results): Bar[] {
  const bars: Bar[] = []
  const limits: Partial<Record<ScenarioId, Partial<Record<string, number>>>> = {
    get: { [HAPROXY]: 2 }, full: { [BARE]: 1.1 }, resume: { [BARE]: 1.2 }
  }
  for (const id of Object.keys(SCENARIOS) as ScenarioId[]) {
    for (const ref of REFERENCES) {
      const v = cpuRatio(r.summaries, id, ref)
      if (!Number.isFinite(v)) continue
      const limit = limits[id]?.[ref]
      bars.push({ label: `${SCENARIOS[id].label}: CPU vs ${ref}`, value: v, ...(limit === undefined ? {} : { limit }) })
    }
  }
  const [mem] = memoryChecks(r)
  const [vsHaproxy, vsStunnel] = tunnelChecks(r)
  const extra: Array<[string, number | undefined, number]> = [
    ['idle memory per connection vs bare Node', mem?.value, 1.2],
    ['tunnel bulk MiB/s vs HAProxy (higher is better)', vsHaproxy?.value, 0.9],
    ['tunnel bulk MiB/s vs stunnel (higher is better)', vsStunnel?.value, 0.9]
  ]
  for (const [label, value, limit] of extra) {
    if (value !== undefined && Number.isFinite(value)) bars.push({ label, value, limit })
  }
  return bars
}
