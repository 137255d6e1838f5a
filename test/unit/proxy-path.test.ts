// Unit tests of auth-path alias detection: every spelling that may reach Mender as the auth path is caught.
import { describe, expect, it } from 'vitest'
import { isAuthPathAlias, normalisePath } from '../../src/proxy/path.js'
import { AUTH_PATH } from '../../src/device-auth/interceptor.js'

describe('isAuthPathAlias', () => {
  it.each([
    ['%2F-encoded slashes', '/api/devices/v1/authentication%2Fauth_requests'],
    ['a lower-case %2f', '/api%2fdevices/v1/authentication/auth_requests'],
    ['an encoded underscore', '/api/devices/v1/authentication/auth%5Frequests'],
    ['encoded letters', '/api/devices/v1/%61uthentication/auth_requests'],
    ['double slashes', '/api/devices//v1/authentication/auth_requests'],
    ['a leading double slash', '//api/devices/v1/authentication/auth_requests'],
    ['a /./ segment', '/api/devices/v1/./authentication/auth_requests'],
    ['a /x/../ segment', '/api/devices/v1/x/../authentication/auth_requests'],
    ['encoded dot segments', '/api/devices/v1/x/%2E%2E/authentication/auth_requests'],
    ['a trailing slash', '/api/devices/v1/authentication/auth_requests/'],
    ['upper case', '/API/Devices/V1/Authentication/AUTH_REQUESTS'],
    ['backslashes', '/api\\devices\\v1\\authentication\\auth_requests'],
    ['a query string', '/api/devices/v1/authentication/auth_requests/?x=1'],
    ['a climb above the root', '/../api/devices/v1/authentication/auth_requests']
  ])('is true for %s', (_name, url) => {
    expect(isAuthPathAlias(url)).toBe(true)
  })

  it('is true for the exact path', () => {
    expect(isAuthPathAlias(AUTH_PATH)).toBe(true)
  })

  it('is true (fail closed) for malformed percent-encoding', () => {
    expect(isAuthPathAlias('/api/devices/v1/%E0%A4%A/auth')).toBe(true)
  })

  it.each([
    '/api/devices/v1/inventory/device/attributes',
    '/api/devices/v1/deployments/device/deployments/next',
    '/api/devices/v2/deployments/device/deployments/next',
    '/api/devices/v1/authentication/auth_requests_extra',
    '/api/devices/v1/authentication',
    '/api/devices/v1/authentication/auth_requests/x',
    '/api/devices/v1/authentication/auth_requests/../other',
    '/api/devices/v1/authentication%252Fauth_requests',
    '/',
    ''
  ])('is false for %j', (url) => {
    expect(isAuthPathAlias(url)).toBe(false)
  })
})

describe('normalisePath', () => {
  it('decodes, resolves dot segments, collapses slashes and lower-cases', () => {
    expect(normalisePath('//A/./b/../C%2Fd/?q')).toBe('/a/c/d')
  })

  it('returns undefined for malformed percent-encoding', () => {
    expect(normalisePath('/%zz')).toBeUndefined()
  })
})
