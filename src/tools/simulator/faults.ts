// Fault knobs of the simulator: latency per route group, forced error status, dropped connection or an HTML page
// (what a misrouted proxy answers) for the next N requests of a group, and token lifetime overrides. Pure state;
// the app's hooks consume it.
export const FAULT_GROUPS = ['login', 'preauth', 'auth_requests', 'device', 'management', 'websocket'] as const
export type FaultGroup = typeof FAULT_GROUPS[number]

export interface FaultConfig {
  /** Delay (ms) added before each request of the group is handled. */
  latencyMs?: Partial<Record<FaultGroup, number>>
  /** Answer the next `count` requests of the group with `status` and a Mender error body. */
  fail?: Partial<Record<FaultGroup, { status: number, count: number }>>
  /** Destroy the socket of the next N requests of the group without answering. */
  drop?: Partial<Record<FaultGroup, number>>
  /** Answer the next N requests of the group 200 with an HTML page (a login portal or a misrouted proxy). */
  html?: Partial<Record<FaultGroup, number>>
  /** Overrides the configured token lifetimes (0 or negative: tokens are issued already expired). */
  tokenLifetimeSec?: { user?: number, device?: number }
}

export type FaultAction = { kind: 'none' } | { kind: 'drop' } | { kind: 'html' } | { kind: 'fail', status: number }

export interface FaultControls {
  get: () => FaultConfig
  /** Replaces the whole fault configuration. */
  set: (config: FaultConfig) => void
  /** Merges into the current configuration (per group / per field). */
  update: (config: FaultConfig) => void
  clear: () => void
  latency: (group: FaultGroup, ms: number) => void
  failNext: (group: FaultGroup, status?: number, count?: number) => void
  dropNext: (group: FaultGroup, count?: number) => void
  htmlNext: (group: FaultGroup, count?: number) => void
  tokenLifetime: (lifetimes: { user?: number, device?: number }) => void
}

function copy (config: FaultConfig): FaultConfig {
  return JSON.parse(JSON.stringify(config)) as FaultConfig
}

export class Faults implements FaultControls {
  private config: FaultConfig = {}

  get (): FaultConfig { return copy(this.config) }
  set (config: FaultConfig): void { this.config = copy(config) }
  clear (): void { this.config = {} }

  update (config: FaultConfig): void {
    const c = copy(config)
    const cur = this.config
    if (c.latencyMs !== undefined) cur.latencyMs = { ...cur.latencyMs, ...c.latencyMs }
    if (c.fail !== undefined) cur.fail = { ...cur.fail, ...c.fail }
    if (c.drop !== undefined) cur.drop = { ...cur.drop, ...c.drop }
    if (c.html !== undefined) cur.html = { ...cur.html, ...c.html }
    if (c.tokenLifetimeSec !== undefined) cur.tokenLifetimeSec = { ...cur.tokenLifetimeSec, ...c.tokenLifetimeSec }
  }

  latency (group: FaultGroup, ms: number): void { this.update({ latencyMs: { [group]: ms } }) }
  failNext (group: FaultGroup, status = 500, count = 1): void { this.update({ fail: { [group]: { status, count } } }) }
  dropNext (group: FaultGroup, count = 1): void { this.update({ drop: { [group]: count } }) }
  htmlNext (group: FaultGroup, count = 1): void { this.update({ html: { [group]: count } }) }
  tokenLifetime (lifetimes: { user?: number, device?: number }): void { this.update({ tokenLifetimeSec: lifetimes }) }

  latencyOf (group: FaultGroup): number { return this.config.latencyMs?.[group] ?? 0 }

  lifetimeOverride (kind: 'user' | 'device'): number | undefined { return this.config.tokenLifetimeSec?.[kind] }

  /** Consumes one pending drop or forced failure of the group (drop first). */
  take (group: FaultGroup): FaultAction {
    const drops = this.config.drop?.[group] ?? 0
    if (drops > 0 && this.config.drop !== undefined) {
      this.config.drop[group] = drops - 1
      return { kind: 'drop' }
    }
    const pages = this.config.html?.[group] ?? 0
    if (pages > 0 && this.config.html !== undefined) {
      this.config.html[group] = pages - 1
      return { kind: 'html' }
    }
    const fail = this.config.fail?.[group]
    if (fail !== undefined && fail.count > 0) {
      fail.count -= 1
      return { kind: 'fail', status: fail.status }
    }
    return { kind: 'none' }
  }
}

const isGroup = (k: string): k is FaultGroup => (FAULT_GROUPS as readonly string[]).includes(k)
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function checkGroups (field: string, value: unknown, check: (v: unknown) => boolean): string[] {
  if (value === undefined) return []
  if (!isObject(value)) return [`${field} must be an object`]
  return Object.entries(value).flatMap(([k, v]) => {
    if (!isGroup(k)) return [`${field}: unknown group ${k} (one of ${FAULT_GROUPS.join(', ')})`]
    return check(v) ? [] : [`${field}.${k} is invalid`]
  })
}

const isFail = (v: unknown): boolean => isObject(v) && Number.isInteger(v.status) &&
  (v.status as number) >= 400 && (v.status as number) <= 599 && isCount(v.count)

function checkLifetimes (value: unknown): string[] {
  if (value === undefined) return []
  if (!isObject(value)) return ['tokenLifetimeSec must be an object']
  return Object.entries(value).flatMap(([k, v]) => {
    if (k !== 'user' && k !== 'device') return [`tokenLifetimeSec: unknown key ${k}`]
    return Number.isInteger(v) ? [] : [`tokenLifetimeSec.${k} must be an integer`]
  })
}

/** Validates a fault configuration received as JSON; returns the problems found (empty when valid). */
export function faultConfigProblems (value: unknown): string[] {
  if (!isObject(value)) return ['fault configuration must be a JSON object']
  const known = new Set(['latencyMs', 'fail', 'drop', 'html', 'tokenLifetimeSec'])
  return [
    ...Object.keys(value).filter((k) => !known.has(k)).map((k) => `unknown field ${k}`),
    ...checkGroups('latencyMs', value.latencyMs, isCount),
    ...checkGroups('fail', value.fail, isFail),
    ...checkGroups('drop', value.drop, isCount),
    ...checkGroups('html', value.html, isCount),
    ...checkLifetimes(value.tokenLifetimeSec)
  ]
}
