// HTTP/2 header blocks a conforming client never sends, written as raw frames: fields with bytes HTTP forbids, bad
// pseudo-headers, connection-specific fields, odd authorities and paths. Each is either dropped or reset by the HTTP/2
// layer before the gateway reads the request, or refused by the gateway in Mender's shape; a forwarded request never
// carries such a field, and nothing is answered 500 or logged as an error.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openTwoTenants, type TwoTenants } from '../support/two-tenants.js'
import { bodyOf, rawH2Request, wasReset } from '../support/raw-h2.js'

const NEXT = '/api/devices/v1/deployments/device/deployments/next'
let setup: TwoTenants
let logsBefore = 0

beforeAll(async () => { setup = await openTwoTenants({ body_limit: 4096 }) })
afterAll(async () => { await setup?.close() })
beforeEach(() => { setup.sim.requests.length = 0; logsBefore = setup.gw.logs.length })

const request = (path: string, authority = 'localhost'): Array<[string, string]> =>
  [[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', path]]

async function send (fields: Array<[string, string]>): Promise<{ reset: boolean, body: string }> {
  const frames = await rawH2Request(setup.gw.port, setup.pki, setup.pki.devices.ec, fields)
  return { reset: wasReset(frames), body: bodyOf(frames) }
}

/** No line of this test at error level, and no 500 answered. */
function expectNoServerError (): void {
  const lines = setup.gw.logs.slice(logsBefore)
  expect(lines.filter((l) => l.level === 'error' || l.status === 500), JSON.stringify(lines)).toEqual([])
}

describe('header fields with bytes HTTP forbids', () => {
  // HTTP/1.1's parser answers 400 to these; nghttp2 drops such a field (RFC 9113 §8.2.1): neither side ever sees it
  it.each([
    ['a control byte in a value', 'x-probe', 'a\x01b'],
    ['DEL in a value', 'x-probe', 'a\x7fb'],
    ['a leading space in a value', 'x-probe', ' ab'],
    ['a space in a name', 'x probe', 'ab'],
    ['DEL in a name', 'x\x7fprobe', 'ab'],
    ['a non-ASCII name', 'x-pr\xe9be', 'ab'],
    ['a control byte in authorization', 'authorization', 'Bearer a\x01b']
  ])('drops a field with %s: the request is forwarded without it', async (_, name, value) => {
    const a = await send([...request(NEXT), [name, value]])
    expect(a.reset).toBe(false)
    expect(JSON.parse(a.body)).toHaveProperty('request_id')
    const forwarded = setup.sim.requests.find((r) => r.url === NEXT)
    expect(forwarded).toBeDefined()
    const headers = forwarded?.headers ?? {}
    expect(Object.keys(headers).filter((k) => k.includes('probe') || /[^\x21-\x7e]/.test(k))).toEqual([])
    expect(headers.authorization).toBeUndefined()
    expect(Object.values(headers).some((v) => String(v).includes('\x01') || String(v).includes('\x7f'))).toBe(false)
    expectNoServerError()
  })

  it('forwards obs-text and a tab inside a value as sent (both protocols allow them)', async () => {
    const a = await send([...request(NEXT), ['x-probe', 'a\tb\xe9']])
    expect(a.reset).toBe(false)
    expect(setup.sim.requests.find((r) => r.url === NEXT)?.headers['x-probe']).toBe('a\tbé')
    expectNoServerError()
  })
})

describe('header blocks the HTTP/2 layer resets', () => {
  it.each([
    ['an upper-case field name', [...request(NEXT), ['X-Probe', 'a']]],
    ['an unknown pseudo-header', [...request(NEXT), [':probe', 'a']]],
    ['a pseudo-header after a regular field', [[':method', 'GET'], ['x-probe', 'a'], [':scheme', 'https'], [':authority', 'localhost'], [':path', NEXT]]],
    ['a second :path', [...request(NEXT), [':path', '/api/devices/v1/authentication/auth_requests']]],
    ['no :path', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost']]],
    ['a second Host', [...request(NEXT), ['host', 'localhost'], ['host', 'evil.test']]],
    ['te other than trailers', [...request(NEXT), ['te', 'gzip']]],
    ['connection', [...request(NEXT), ['connection', 'close']]],
    ['transfer-encoding', [...request(NEXT), ['transfer-encoding', 'chunked']]],
    ['DEL in :path', request('/api/devices/v1/x\x7fy')],
    ['a tab in :path', request('/api/devices/v1/x\ty')],
    ['DEL in the query', request(`${NEXT}?a=\x7f`)],
    ['DEL in :authority', request(NEXT, 'local\x7fhost')]
  ] as Array<[string, Array<[string, string]>]>)('resets %s and forwards nothing', async (_, fields) => {
    const a = await send(fields)
    expect(a.reset).toBe(true)
    expect(setup.sim.requests).toEqual([])
    expectNoServerError()
  })
})

describe('header blocks the gateway refuses', () => {
  it.each([
    ['a non-ASCII byte in :path', request('/api/devices/v1/x\xffy'), 'bad request'],
    ['backslashes in :path', request('/api/devices/v1/x\\..\\y'), 'bad request'],
    ['another server in :authority', request(NEXT, 'evil.test'), 'misdirected request'],
    ['Host contradicting :authority', [...request(NEXT), ['host', 'evil.test']], 'bad request']
  ] as Array<[string, Array<[string, string]>, string]>)('refuses %s in Mender\'s shape and forwards nothing', async (_, fields, error) => {
    const a = await send(fields)
    expect(a.reset).toBe(false)
    expect(JSON.parse(a.body)).toEqual({ error, request_id: expect.any(String) })
    expect(setup.sim.requests).toEqual([])
    expectNoServerError()
  })
})

describe('user info in :authority', () => {
  // newer nghttp2 (Node 22, 24) resets a stream whose :authority holds user info; Node 20's reaches the gateway: 421
  it('is reset by the HTTP/2 layer or refused 421 in Mender\'s shape, and nothing is forwarded', async () => {
    const a = await send(request(NEXT, 'evil@localhost'))
    if (!a.reset) expect(JSON.parse(a.body)).toEqual({ error: 'misdirected request', request_id: expect.any(String) })
    expect(setup.sim.requests).toEqual([])
    expectNoServerError()
  })
})
