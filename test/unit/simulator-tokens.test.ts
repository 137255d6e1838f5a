import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { generateJwtKeys, type JwtKeys } from '../../src/tools/simulator/jwt.js'
import { TokenService, bearerToken } from '../../src/tools/simulator/tokens.js'

const USER = { id: 'user-1', email: 'a@example.com', tenant: 'tenant-a' }
const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

describe('simulator token service', () => {
  let keys: JwtKeys
  let lifetimes: { user: number, device: number }
  let forced: number | undefined
  let tokens: TokenService
  beforeAll(async () => { keys = await generateJwtKeys() })
  beforeEach(() => {
    lifetimes = { user: 604800, device: 604800 }
    forced = undefined
    tokens = new TokenService(keys, {
      multiTenant: true, lifetime: (k) => lifetimes[k], forcedUserLifetime: () => forced
    })
  })

  it('issues user tokens with the contract claims', () => {
    const claims = claimsOf(tokens.issueUser(USER, false))
    expect(claims).toMatchObject({ sub: 'user-1', iss: 'Mender', scp: 'mender.*', 'mender.user': true, 'mender.tenant': 'tenant-a' })
  })

  it('expires user tokens after the configured lifetime', () => {
    const claims = claimsOf(tokens.issueUser(USER, false))
    expect((claims.exp as number) - (claims.iat as number)).toBe(604800)
  })

  it('omits exp for no_expiry logins', () => {
    expect(claimsOf(tokens.issueUser(USER, true)).exp).toBeUndefined()
  })

  it('forces exp on no_expiry logins while a lifetime fault is active', () => {
    forced = 5
    const claims = claimsOf(tokens.issueUser(USER, true))
    expect((claims.exp as number) - (claims.iat as number)).toBe(5)
  })

  it('accepts a valid user token for management', () => {
    expect(tokens.checkManagement(`Bearer ${tokens.issueUser(USER, false)}`)?.sub).toBe('user-1')
  })

  it('refuses an expired user token for management', () => {
    lifetimes.user = 0
    expect(tokens.checkManagement(`Bearer ${tokens.issueUser(USER, false)}`)).toBeUndefined()
  })

  it('refuses a device token for management', () => {
    expect(tokens.checkManagement(`Bearer ${tokens.issueDevice('dev-1', 'aid-1', '')}`)).toBeUndefined()
  })

  it('refuses a revoked personal access token', () => {
    const pat = tokens.issuePat(USER, 'ci', undefined)
    tokens.revokePat('user-1', String(claimsOf(pat).jti))
    expect(tokens.checkManagement(`Bearer ${pat}`)).toBeUndefined()
  })

  it('issues device tokens whose jti is the auth set and sub the device', () => {
    expect(claimsOf(tokens.issueDevice('dev-1', 'aid-1', 'tenant-a')))
      .toMatchObject({ jti: 'aid-1', sub: 'dev-1', iss: 'Mender', 'mender.device': true, 'mender.tenant': 'tenant-a' })
  })

  it('answers 403 to an expired device token once, then 401', () => {
    lifetimes.device = 0
    const auth = `Bearer ${tokens.issueDevice('dev-1', 'aid-1', '')}`
    const statuses = [tokens.checkDevice(auth), tokens.checkDevice(auth)].map((c) => c.ok ? 200 : c.status)
    expect(statuses).toEqual([403, 401])
  })

  it('answers 401 to a device token of a revoked auth set', () => {
    const auth = `Bearer ${tokens.issueDevice('dev-1', 'aid-1', '')}`
    tokens.revokeAuthSets(['aid-1'])
    expect(tokens.checkDevice(auth)).toMatchObject({ ok: false, status: 401 })
  })

  it('answers 401 to a user token on device routes', () => {
    expect(tokens.checkDevice(`Bearer ${tokens.issueUser(USER, false)}`)).toMatchObject({ ok: false, status: 401 })
  })

  it('extracts bearer tokens case-insensitively and ignores other schemes', () => {
    expect([bearerToken('bearer abc'), bearerToken('Basic abc'), bearerToken(undefined)]).toEqual(['abc', undefined, undefined])
  })
})
