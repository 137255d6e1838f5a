// Management API health per tenant, as the last login attempt left it: reported by /readyz (advisory) and the
// mtls_management_up gauge, logged on each transition (MTLS_WARN_MGMT_DOWN, MTLS_INFO_MGMT_UP). Never waits.
import { LogCodes } from '../../errors.js'
import type { Logger } from 'pino'
import type { Check } from '../../status/readiness.js'

export type LoginResult = 'login' | 'refresh' | 'failed'

interface State { up: boolean | undefined, detail: string, since: Date }

export interface ManagementHealthOptions {
  log: Logger
  /** Called whenever a tenant's state becomes known or changes (true: a management token is available). */
  onChange?: (tenant: string, up: boolean) => void
  now?: () => Date
}

export class ManagementHealth {
  private readonly states = new Map<string, State>()
  private readonly now: () => Date

  constructor (private readonly o: ManagementHealthOptions) {
    this.now = o.now ?? (() => new Date())
  }

  /** Starts tracking a tenant: a static access token is usable at once, a login is pending until it is tried. */
  track (tenant: string, staticToken: boolean): void {
    const up = staticToken ? true : undefined
    this.states.set(tenant, { up, detail: staticToken ? 'access token' : 'login pending', since: this.now() })
    this.o.onChange?.(tenant, up === true)
  }

  /** Records the outcome of a login attempt; `code` is the failure's error code. */
  record (tenant: string, result: LoginResult, code?: string, upstreamStatus?: number): void {
    const prev = this.states.get(tenant)
    const up = result !== 'failed'
    const status = upstreamStatus !== undefined ? ` (upstream ${upstreamStatus})` : ''
    const detail = up ? 'ok' : `${code ?? 'login failed'}${status}`
    const since = prev?.up === up ? prev.since : this.now()
    this.states.set(tenant, { up, detail, since })
    if (prev?.up === up) return
    this.o.onChange?.(tenant, up)
    if (!up) {
      this.o.log.warn({ code: LogCodes.MGMT_DOWN, event: 'mgmt_down', tenant, reason: code, upstreamStatus },
        'management API unavailable: devices holding a JWT keep working, new devices cannot be preauthorized')
    } else if (prev?.up === false) {
      const downForMs = since.getTime() - prev.since.getTime()
      this.o.log.info({ code: LogCodes.MGMT_UP, event: 'mgmt_up', tenant, downForMs }, 'management API back')
    }
  }

  /** Whether the tenant has a management token now (false while pending or down). */
  isUp (tenant: string): boolean { return this.states.get(tenant)?.up === true }

  /** The advisory readiness check: ok when every tenant is up, the detail naming each tenant's state. */
  check (): Check {
    const all = [...this.states.entries()]
    const ok = all.every(([, s]) => s.up === true)
    const named = all.length > 1
    const detail = all.map(([name, s]) => `${named ? `${name}: ` : ''}${s.detail} since ${s.since.toISOString()}`)
    return { ok, advisory: true, detail: detail.join('; ') }
  }
}
