// Unit tests of the coded error catalogue.
import { describe, expect, it } from 'vitest'
import { HttpErrors, LogCodes, NetErrors, NetReasons, StartupErrors, TlsReasons, isCoded } from '../../src/errors.js'

const httpNames = Object.keys(HttpErrors) as Array<keyof typeof HttpErrors>

describe('HttpErrors', () => {
  it('gives every HTTP error the code MTLS_ERR_<name>', () => {
    expect(httpNames.filter((name) => new HttpErrors[name]().code !== `MTLS_ERR_${name}`)).toEqual([])
  })

  it('gives every HTTP error a 4xx or 5xx status', () => {
    expect(httpNames.filter((name) => {
      const status = new HttpErrors[name]().statusCode ?? 0
      return status < 400 || status >= 600
    })).toEqual([])
  })

  it.each([
    ['UNSUPPORTED_MEDIA_TYPE', 415], ['AUTH_MALFORMED', 400], ['AUTH_MISSING_SIGNATURE', 400], ['AUTH_BAD_SIGNATURE', 401],
    ['AUTH_KEY_MISMATCH', 401], ['BODY_TOO_LARGE', 413], ['AUTH_PATH_ALIAS', 404], ['MGMT_LOGIN_FAILED', 502],
    ['MGMT_UNAVAILABLE', 503], ['PREAUTH_FAILED', 502], ['UPSTREAM_TIMEOUT', 504], ['INTERNAL', 500]
  ] as const)('answers %s with %i', (name, status) => {
    expect(new HttpErrors[name]().statusCode).toBe(status)
  })

  it('uses Mender\'s wording for a bad signature', () => {
    expect(new HttpErrors.AUTH_BAD_SIGNATURE().message).toBe('signature verification failed')
  })

  it('keeps a cause', () => {
    const cause = new Error('root')
    expect(new HttpErrors.INTERNAL({ cause }).cause).toBe(cause)
  })
})

describe('TlsReasons and StartupErrors', () => {
  it('uses unique codes across the catalogue', () => {
    const codes = [
      ...httpNames.map((n) => new HttpErrors[n]().code),
      ...Object.values(TlsReasons),
      ...Object.values(LogCodes),
      new StartupErrors.CONFIG_INVALID('x').code,
      new StartupErrors.TLS_MATERIAL('x').code,
      ...Object.values(NetErrors).map((C) => new C('x', 'y').code),
      ...Object.values(NetReasons)
    ]
    expect(new Set(codes).size).toBe(codes.length)
  })

  it('names the address and the reason in the listen error message', () => {
    expect(new NetErrors.LISTEN('127.0.0.1:8080', 'address already in use').message)
      .toBe('cannot listen on 127.0.0.1:8080: address already in use')
  })

  it('puts the problem list into the config error message', () => {
    expect(new StartupErrors.CONFIG_INVALID('  - a').message).toBe('invalid configuration:\n  - a')
  })
})

describe('isCoded', () => {
  it('accepts an error with a string code', () => {
    expect(isCoded(Object.assign(new Error('x'), { code: 'E' }))).toBe(true)
  })

  it('refuses an error without code', () => {
    expect(isCoded(new Error('x'))).toBe(false)
  })

  it('refuses a plain object with a code', () => {
    expect(isCoded({ code: 'E', message: 'x' })).toBe(false)
  })

  it('refuses a numeric code', () => {
    expect(isCoded(Object.assign(new Error('x'), { code: 5 }))).toBe(false)
  })
})
