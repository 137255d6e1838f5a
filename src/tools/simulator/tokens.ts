// Issuing and checking the simulator's JWTs: user tokens (login), personal access tokens and device tokens, with
// Mender's expiry semantics (management: 401; device: 403 once, then 401) and revocation of device tokens.
import { randomUUID } from 'node:crypto'
import { signJwt, verifyJwt, type JwtClaims, type JwtKeys } from './jwt.js'
import type { IssuedCounts } from './types.js'

export interface TokenUser { id: string, email: string, tenant: string }

export interface PatRecord { id: string, name: string, userId: string, createdTs: string, expirationDate?: string }

export type DeviceCheck = { ok: true, claims: JwtClaims } | { ok: false, status: 401 | 403, message: string }

export interface TokenSettings {
  multiTenant: boolean
  /** Current lifetime (seconds) of each kind of token, fault overrides included. */
  lifetime: (kind: 'user' | 'device') => number
  /** True when a fault override forces an expiry even on no_expiry / PAT tokens. */
  forcedUserLifetime: () => number | undefined
}

const nowSec = (): number => Math.floor(Date.now() / 1000)

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken (authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return m?.[1]
}

export class TokenService {
  private readonly deviceTokens = new Map<string, { deviceId: string, exp: number }>()
  private readonly pats = new Map<string, PatRecord>()
  readonly issued: IssuedCounts = { userTokens: 0, deviceTokens: 0, personalAccessTokens: 0 }

  constructor (private readonly keys: JwtKeys, private readonly settings: TokenSettings) {}

  reset (): void {
    this.deviceTokens.clear()
    this.pats.clear()
    Object.assign(this.issued, { userTokens: 0, deviceTokens: 0, personalAccessTokens: 0 })
  }

  private userClaims (user: TokenUser, lifetime: number | undefined): JwtClaims {
    const iat = nowSec()
    const claims: JwtClaims = { jti: randomUUID(), sub: user.id, iss: 'Mender', iat, scp: 'mender.*', 'mender.user': true }
    if (lifetime !== undefined) claims.exp = iat + lifetime
    if (this.settings.multiTenant && user.tenant !== '') claims['mender.tenant'] = user.tenant
    return claims
  }

  /** Login token; `noExpiry` drops `exp` unless a lifetime fault is active. */
  issueUser (user: TokenUser, noExpiry: boolean): string {
    const lifetime = noExpiry ? this.settings.forcedUserLifetime() : this.settings.lifetime('user')
    this.issued.userTokens++
    return signJwt(this.userClaims(user, lifetime), this.keys)
  }

  /** Personal access token; `expiresIn` 0/undefined: no expiry (unless a lifetime fault is active). */
  issuePat (user: TokenUser, name: string, expiresIn: number | undefined): string {
    const lifetime = expiresIn !== undefined && expiresIn > 0 ? expiresIn : this.settings.forcedUserLifetime()
    const claims: JwtClaims = { ...this.userClaims(user, lifetime), 'mender.pat': true }
    const record: PatRecord = { id: claims.jti as string, name, userId: user.id, createdTs: new Date().toISOString() }
    if (typeof claims.exp === 'number') record.expirationDate = new Date(claims.exp * 1000).toISOString()
    this.pats.set(record.id, record)
    this.issued.personalAccessTokens++
    return signJwt(claims, this.keys)
  }

  patsOf (userId: string): PatRecord[] {
    return [...this.pats.values()].filter((p) => p.userId === userId)
  }

  revokePat (userId: string, id: string): void {
    if (this.pats.get(id)?.userId === userId) this.pats.delete(id)
  }

  patNameTaken (userId: string, name: string): boolean {
    return this.patsOf(userId).some((p) => p.name === name)
  }

  /** Claims of a valid management (user or PAT) bearer token, else undefined (→ 401). */
  checkManagement (authorization: string | undefined): JwtClaims | undefined {
    const token = bearerToken(authorization)
    if (token === undefined) return undefined
    const check = verifyJwt(token, this.keys, nowSec())
    if (!check.ok || check.claims['mender.user'] !== true) return undefined
    if (check.claims['mender.pat'] === true && !this.pats.has(String(check.claims.jti))) return undefined
    return check.claims
  }

  /** Device token: jti is the auth set id and sub the device id. */
  issueDevice (deviceId: string, authSetId: string, tenant: string): string {
    const iat = nowSec()
    const exp = iat + this.settings.lifetime('device')
    const claims: JwtClaims = { jti: authSetId, sub: deviceId, iss: 'Mender', iat, exp, 'mender.device': true }
    if (this.settings.multiTenant && tenant !== '') claims['mender.tenant'] = tenant
    this.deviceTokens.set(authSetId, { deviceId, exp })
    this.issued.deviceTokens++
    return signJwt(claims, this.keys)
  }

  /** Mender's device token check: unknown/invalid → 401; expired and still known → forgotten, 403; then 401. */
  checkDevice (authorization: string | undefined): DeviceCheck {
    const token = bearerToken(authorization)
    if (token === undefined) return { ok: false, status: 401, message: 'unauthorized' }
    const check = verifyJwt(token, this.keys, nowSec())
    if (check.ok && check.claims['mender.device'] === true && this.deviceTokens.has(String(check.claims.jti))) {
      return { ok: true, claims: check.claims }
    }
    if (!check.ok && check.reason === 'expired' && check.claims['mender.device'] === true) {
      const jti = String(check.claims.jti)
      const known = this.deviceTokens.get(jti)
      if (known !== undefined && known.exp === check.claims.exp) {
        this.deviceTokens.delete(jti)
        return { ok: false, status: 403, message: 'token expired' }
      }
    }
    return { ok: false, status: 401, message: 'unauthorized' }
  }

  revokeAuthSets (ids: string[]): void {
    for (const id of ids) this.deviceTokens.delete(id)
  }
}
