// Unit tests of JWT claim decoding (no verification).
import { describe, expect, it } from 'vitest'
import { decodeJwtClaims } from '../../src/gateway/mender/jwt.js'

const part = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
const jwt = (claims: unknown): string => `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`

describe('decodeJwtClaims', () => {
  it('returns the claims of a token', () => {
    expect(decodeJwtClaims(jwt({ sub: 'u1', exp: 1_900_000_000 }))).toEqual({ sub: 'u1', exp: 1_900_000_000 })
  })

  it('reads base64url characters in the payload', () => {
    const claims = { s: '??>>~~' }
    expect(part(claims)).toMatch(/[-_]/)
    expect(decodeJwtClaims(jwt(claims))).toEqual(claims)
  })

  it.each(['', 'abc', 'a.b', 'a.b.c.d'])('refuses %j, which is not three parts', (text) => {
    expect(decodeJwtClaims(text)).toBeUndefined()
  })

  it('refuses a payload that is not JSON', () => {
    expect(decodeJwtClaims(`${part({})}.${part('not json')}.c2ln`)).toBeUndefined()
  })

  it.each([['an array', [1]], ['null', null], ['a number', 5], ['a string', 'x']])('refuses a payload holding %s', (_n, v) => {
    expect(decodeJwtClaims(`${part({})}.${Buffer.from(JSON.stringify(v)).toString('base64url')}.c2ln`)).toBeUndefined()
  })
})
