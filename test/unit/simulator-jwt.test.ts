import { beforeAll, describe, expect, it } from 'vitest'
import { decodeJwtClaims, generateJwtKeys, signJwt, verifyJwt, type JwtKeys } from '../../src/tools/simulator/jwt.js'

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

describe('simulator JWT (RS256 with node:crypto)', () => {
  let keys: JwtKeys
  let other: JwtKeys
  beforeAll(async () => {
    [keys, other] = await Promise.all([generateJwtKeys(), generateJwtKeys()])
  })

  it('verifies its own token and returns the claims', () => {
    const token = signJwt({ sub: 'u1', exp: 2_000_000_000 }, keys)
    expect(verifyJwt(token, keys, 1_000)).toEqual({ ok: true, claims: { sub: 'u1', exp: 2_000_000_000 } })
  })

  it('signs with an RS256 header', () => {
    const header = JSON.parse(Buffer.from(signJwt({}, keys).split('.')[0]!, 'base64url').toString())
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' })
  })

  it('rejects a token whose payload was changed', () => {
    const [h, , s] = signJwt({ sub: 'u1' }, keys).split('.')
    expect(verifyJwt(`${h}.${b64({ sub: 'admin' })}.${s}`, keys)).toEqual({ ok: false, reason: 'signature' })
  })

  it('rejects a token signed by another simulator', () => {
    expect(verifyJwt(signJwt({ sub: 'u1' }, other), keys)).toEqual({ ok: false, reason: 'signature' })
  })

  it('rejects alg none', () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1' })}.AAAA`
    expect(verifyJwt(token, keys)).toEqual({ ok: false, reason: 'signature' })
  })

  it('reports an expired token with its claims', () => {
    const token = signJwt({ jti: 'a1', exp: 1_000 }, keys)
    expect(verifyJwt(token, keys, 1_000)).toEqual({ ok: false, reason: 'expired', claims: { jti: 'a1', exp: 1_000 } })
  })

  it('accepts a token without exp', () => {
    expect(verifyJwt(signJwt({ sub: 'u1' }, keys), keys).ok).toBe(true)
  })

  it('reports garbage as malformed', () => {
    expect(verifyJwt('not-a-jwt', keys)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('decodes claims without verifying', () => {
    expect(decodeJwtClaims(signJwt({ sub: 'x' }, other))).toEqual({ sub: 'x' })
  })
})
