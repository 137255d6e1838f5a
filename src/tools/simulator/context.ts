// The shared state every simulator route works on (store, tokens, faults, recordings), the user directory, and
// its construction from SimulatorOptions.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { DeviceData } from './device-data.js'
import { FAULT_GROUPS, Faults } from './faults.js'
import type { JwtKeys } from './jwt.js'
import { DeviceStore } from './store.js'
import { TokenService, type TokenUser } from './tokens.js'
import type { RecordedRequest, RequestCounts, SimulatorOptions, SimulatorUser } from './types.js'

export const DEFAULT_USER: SimulatorUser = { email: 'mtls@example.com', password: 'correcthorsebatterystaple' }
export const DEFAULT_LIFETIME_SEC = 604800

interface UserEntry extends TokenUser { passwordHash: Buffer }

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

export class UserDirectory {
  private readonly byEmail = new Map<string, UserEntry>()
  private readonly byId = new Map<string, UserEntry>()

  constructor (users: SimulatorUser[]) {
    for (const u of users) {
      const entry = { id: randomUUID(), email: u.email.toLowerCase(), tenant: u.tenant ?? '', passwordHash: digest(u.password) }
      this.byEmail.set(entry.email, entry)
      this.byId.set(entry.id, entry)
    }
  }

  /** The user with these credentials (email case-insensitive), else undefined. */
  check (email: string, password: string): TokenUser | undefined {
    const user = this.byEmail.get(email.toLowerCase())
    const ok = timingSafeEqual(user?.passwordHash ?? digest(''), digest(password))
    return user !== undefined && ok ? user : undefined
  }

  byUserId (id: string): TokenUser | undefined {
    return this.byId.get(id)
  }
}

export interface SimContext {
  store: DeviceStore
  data: DeviceData
  tokens: TokenService
  faults: Faults
  users: UserDirectory
  multiTenant: boolean
  tenantTokens: Map<string, string>
  /** The latest requests, at most `requestLogLimit` of them; `requestSeq` numbers them (1 after a reset). */
  requests: RecordedRequest[]
  requestLogLimit: number
  requestSeq: number
  counts: RequestCounts
  /** Requests in progress per group, and the most there have been at once since the last reset. */
  inFlight: RequestCounts
  peaks: RequestCounts
  /** Tenant of a management token's claims ('' when not multi-tenant). */
  tenantOf: (claims: Record<string, unknown>) => string
}

/** Requests the log keeps by default: enough for a test to inspect, bounded under sustained load. */
export const DEFAULT_REQUEST_LOG = 1000

export function zeroCounts (): RequestCounts {
  return Object.fromEntries(FAULT_GROUPS.map((g) => [g, 0])) as RequestCounts
}

export function createContext (opts: SimulatorOptions, keys: JwtKeys): SimContext {
  const faults = new Faults()
  const multiTenant = opts.multiTenant === true
  const lifetimes = {
    user: opts.userTokenLifetimeSec ?? DEFAULT_LIFETIME_SEC,
    device: opts.deviceTokenLifetimeSec ?? DEFAULT_LIFETIME_SEC
  }
  const tokens = new TokenService(keys, {
    multiTenant,
    lifetime: (kind) => faults.lifetimeOverride(kind) ?? lifetimes[kind],
    forcedUserLifetime: () => faults.lifetimeOverride('user')
  })
  const data = new DeviceData()
  const store = new DeviceStore((ids) => tokens.revokeAuthSets(ids))
  return {
    store,
    data,
    tokens,
    faults,
    users: new UserDirectory(opts.users ?? [DEFAULT_USER]),
    multiTenant,
    tenantTokens: new Map(Object.entries(opts.tenantTokens ?? {})),
    requests: [],
    requestLogLimit: opts.requestLog ?? DEFAULT_REQUEST_LOG,
    requestSeq: 0,
    counts: zeroCounts(),
    inFlight: zeroCounts(),
    peaks: zeroCounts(),
    tenantOf: (claims) => multiTenant && typeof claims['mender.tenant'] === 'string' ? claims['mender.tenant'] : ''
  }
}
