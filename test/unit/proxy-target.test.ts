// Unit tests of the request-target policy: canonical paths pass unchanged; every other spelling is refused, and a
// spelling that a lenient server would read as the auth path gets the auth-alias refusal.
import { describe, expect, it } from 'vitest'
import { checkTarget, hostName } from '../../src/gateway/proxy/target.js'
import { AUTH_PATH } from '../../src/gateway/mender/paths.js'

const refusal = (t: string): string | undefined => { const v = checkTarget(t); return v.ok ? undefined : v.refusal }

describe('checkTarget', () => {
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
    ['a query string after a trailing slash', '/api/devices/v1/authentication/auth_requests/?x=1'],
    ['a climb above the root', '/../api/devices/v1/authentication/auth_requests'],
    ['a path parameter', `${AUTH_PATH};jsessionid=1`],
    ['an encoded semicolon', `${AUTH_PATH}%3b`],
    ['an encoded NUL', `${AUTH_PATH}%00`],
    ['an encoded space', `${AUTH_PATH}%20`],
    ['an encoded tab', `${AUTH_PATH}%09`],
    ['a trailing dot', `${AUTH_PATH}.`],
    ['a trailing encoded dot', `${AUTH_PATH}%2e`],
    ['an encoded backslash', '/api/devices/v1/authentication%5cauth_requests'],
    ['a trailing encoded backslash', `${AUTH_PATH}%5C`]
  ])('refuses %s as an auth-path alias', (_name, url) => {
    expect(refusal(url)).toBe('AUTH_PATH_ALIAS')
  })

  it('admits the exact auth path', () => {
    expect(checkTarget(AUTH_PATH)).toEqual({ ok: true, path: AUTH_PATH, query: '' })
  })

  it.each([
    '/api/devices/v1/%E0%A4%A/auth', '/%zz', '/a%', '/a/./b', '/a/../b', '/a/%2e%2E/b', '/a//b', '/a;b', '/a\\b',
    '/a b', '/a\tb', '/a%00', '/a%7f', '/a/b.', '/a#f', '/a?b#c', '/a?b c', '/a?%zz', '/é', 'api/devices', '',
    '*', 'localhost:443', 'http://localhost/a', 'https://u@localhost/a', 'ftp://localhost/a', 'https:///a'
  ])('refuses the non-canonical target %j', (url) => {
    expect(refusal(url)).toBeDefined()
  })

  it.each([
    '/api/devices/v1/inventory/device/attributes',
    '/api/devices/v1/deployments/device/deployments/next?artifact_name=r1&device_type=x',
    '/api/devices/v1/authentication/auth_requests_extra',
    '/api/devices/v1/authentication',
    '/api/devices/v1/authentication/auth_requests/x',
    '/api/devices/v1/authentication%252Fauth_requests',
    '/api/devices/v1/a%2Bb%40c%C3%A9',
    '/api/devices/v1/x/',
    '/'
  ])('admits the canonical target %j unchanged', (url) => {
    const v = checkTarget(url)
    expect(v.ok && v.path + v.query).toBe(url)
  })

  it('serves an absolute-form https target in origin form with its authority', () => {
    expect(checkTarget('https://Gateway.example:8443/api/devices/v1/x?a=1')).toEqual({
      ok: true, path: '/api/devices/v1/x', query: '?a=1', authority: 'Gateway.example:8443'
    })
  })

  it('reads an absolute-form target without a path as /', () => {
    expect(checkTarget('https://localhost')).toMatchObject({ ok: true, path: '/' })
  })
})

describe('hostName', () => {
  it.each([['Example.com:443', 'example.com'], ['[::1]:8080', '::1'], ['localhost', 'localhost'], ['a:', 'a']])(
    'reads %j as %j', (host, name) => { expect(hostName(host)).toBe(name) })
})
