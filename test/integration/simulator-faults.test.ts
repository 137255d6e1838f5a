import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import {
  USER, acceptedDevice, authRequest, basic, deviceKey, http, jwtClaims, login, preauth, type DeviceKey
} from '../support/sim-helpers.js'

const LOGIN = '/api/management/v1/useradm/auth/login'
const NEXT = '/api/devices/v1/deployments/device/deployments/next'

describe('simulator fault knobs', () => {
  let sim: Simulator
  let key: DeviceKey
  beforeAll(async () => {
    sim = await startSimulator()
    key = deviceKey()
  })
  afterAll(async () => { await sim.close() })
  beforeEach(() => { sim.reset() })

  const postLogin = async () => await http(sim.url, LOGIN, { method: 'POST', headers: { authorization: basic(USER.email, USER.password) } })

  it('delays the requests of a group by the configured latency', async () => {
    sim.faults.latency('login', 300)
    const started = Date.now()
    await postLogin()
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  })

  it('does not delay other groups', async () => {
    sim.faults.latency('preauth', 2000)
    const started = Date.now()
    await postLogin()
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('forces the status of the next N requests of a group, then recovers', async () => {
    sim.faults.failNext('login', 503, 2)
    const statuses = [(await postLogin()).status, (await postLogin()).status, (await postLogin()).status]
    expect(statuses).toEqual([503, 503, 200])
  })

  it('answers forced failures with a Mender error body', async () => {
    sim.faults.failNext('login', 500)
    const res = await postLogin()
    expect(res.json()).toEqual({ error: 'internal server error', request_id: res.headers['x-men-requestid'] })
  })

  it('forces failures of preauthorization without storing the device', async () => {
    const token = await login(sim.url)
    sim.faults.failNext('preauth', 502)
    const res = await preauth(sim.url, token, { mac: 'f' }, key.pem)
    expect([res.status, sim.state.devices()]).toEqual([502, []])
  })

  it('forces failures of auth requests', async () => {
    sim.faults.failNext('auth_requests', 500)
    expect((await authRequest(sim.url, { mac: 'f' }, key)).status).toBe(500)
  })

  it('forces failures of device routes', async () => {
    const jwt = await acceptedDevice(sim.url, { mac: 'f' }, key)
    sim.faults.failNext('device', 503)
    expect((await http(sim.url, NEXT, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(503)
  })

  it('drops the connection without an answer', async () => {
    sim.faults.dropNext('login')
    await expect(postLogin()).rejects.toThrow()
  })

  it('answers again after the dropped requests', async () => {
    sim.faults.dropNext('login')
    await postLogin().catch(() => undefined)
    expect((await postLogin()).status).toBe(200)
  })

  it('counts faulted requests as received', async () => {
    sim.faults.failNext('login', 503)
    await postLogin()
    expect(sim.counts.login).toBe(1)
  })

  it('overrides the user token lifetime', async () => {
    sim.faults.tokenLifetime({ user: 2 })
    const claims = jwtClaims(await login(sim.url))
    expect(claims.exp - claims.iat).toBe(2)
  })

  it('overrides the device token lifetime', async () => {
    sim.faults.tokenLifetime({ device: 7 })
    const claims = jwtClaims(await acceptedDevice(sim.url, { mac: 'f' }, key))
    expect(claims.exp - claims.iat).toBe(7)
  })

  it('drops a websocket upgrade', async () => {
    sim.faults.dropNext('websocket')
    const res = await http(sim.url, '/api/devices/v1/deviceconnect/connect', {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAA==' }
    }).catch((err: Error) => err)
    expect(res).toBeInstanceOf(Error)
  })
})

describe('simulator fault knobs over HTTP', () => {
  let sim: Simulator
  beforeAll(async () => { sim = await startSimulator() })
  afterAll(async () => { await sim.close() })
  beforeEach(() => { sim.reset() })

  const put = async (method: string, body: unknown) =>
    await http(sim.url, '/__sim/faults', { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  it('applies a configuration sent with PUT', async () => {
    await put('PUT', { fail: { login: { status: 503, count: 1 } } })
    expect((await http(sim.url, LOGIN, { method: 'POST', headers: { authorization: basic(USER.email, USER.password) } })).status).toBe(503)
  })

  it('replaces the configuration with PUT', async () => {
    await put('PUT', { latencyMs: { login: 5 } })
    await put('PUT', { drop: { device: 1 } })
    expect(sim.faults.get()).toEqual({ drop: { device: 1 } })
  })

  it('merges with PATCH', async () => {
    await put('PUT', { latencyMs: { login: 5 } })
    await put('PATCH', { drop: { device: 1 } })
    expect(sim.faults.get()).toEqual({ latencyMs: { login: 5 }, drop: { device: 1 } })
  })

  it('answers 400 to an invalid configuration', async () => {
    expect((await put('PUT', { fail: { login: { status: 200, count: 1 } } })).status).toBe(400)
  })

  it('reads the configuration back', async () => {
    sim.faults.latency('device', 12)
    expect((await http(sim.url, '/__sim/faults')).json()).toEqual({ latencyMs: { device: 12 } })
  })

  it('clears faults with DELETE', async () => {
    sim.faults.latency('device', 12)
    await http(sim.url, '/__sim/faults', { method: 'DELETE' })
    expect(sim.faults.get()).toEqual({})
  })

  it('never applies faults to the inspection routes', async () => {
    await put('PUT', { drop: { management: 5, device: 5, login: 5 } })
    expect((await http(sim.url, '/__sim/state')).status).toBe(200)
  })
})
