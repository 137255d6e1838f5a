import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { acceptedDevice, authBody, authRequest, deviceKey, http, login, preauth, type DeviceKey } from '../support/sim-helpers.js'

const AUTH = '/api/devices/v1/authentication/auth_requests'
const ID = { mac: '02:00:00:00:00:0c' }

describe('simulator inspection', () => {
  let sim: Simulator
  let key: DeviceKey
  beforeAll(async () => {
    sim = await startSimulator()
    key = deviceKey()
  })
  afterAll(async () => { await sim.close() })
  beforeEach(() => { sim.reset() })

  it('records the exact body bytes of every request', async () => {
    await authRequest(sim.url, ID, key)
    expect(sim.requests.find((r) => r.url === AUTH)?.bodyBytes.equals(authBody(ID, key.pem))).toBe(true)
  })

  it('records the request headers', async () => {
    await authRequest(sim.url, ID, key, { headers: { authorization: 'Bearer tenant-token' } })
    expect(sim.requests[0]?.headers.authorization).toBe('Bearer tenant-token')
  })

  it('records requests to unknown routes', async () => {
    await http(sim.url, '/api/nowhere')
    expect(sim.requests.map((r) => [r.url, r.group])).toEqual([['/api/nowhere', 'other']])
  })

  it('does not record its own inspection requests', async () => {
    await http(sim.url, '/__sim/state')
    expect(sim.requests).toEqual([])
  })

  it('counts logins and preauthorizations', async () => {
    const token = await login(sim.url)
    await preauth(sim.url, token, ID, key.pem)
    await preauth(sim.url, token, ID, key.pem)
    expect([sim.counts.login, sim.counts.preauth]).toEqual([1, 2])
  })

  it('counts issued tokens', async () => {
    await acceptedDevice(sim.url, ID, key)
    expect(sim.state.issued()).toEqual({ userTokens: 1, deviceTokens: 1, personalAccessTokens: 0 })
  })

  it('serves the state snapshot over HTTP', async () => {
    await acceptedDevice(sim.url, ID, key)
    const state = (await http(sim.url, '/__sim/state')).json()
    expect(state).toMatchObject({
      devices: [{ identity: ID, status: 'accepted', authSets: [{ status: 'accepted' }] }],
      counts: { login: 1, preauth: 1, auth_requests: 1 },
      requests: 3
    })
  })

  it('serves the request log with bodies over HTTP', async () => {
    await authRequest(sim.url, ID, key)
    const [entry] = (await http(sim.url, '/__sim/requests')).json()
    expect(Buffer.from(entry.bodyBase64, 'base64').equals(authBody(ID, key.pem))).toBe(true)
  })

  it('serves only the requests after ?since=', async () => {
    await http(sim.url, '/a')
    await http(sim.url, '/b')
    expect((await http(sim.url, '/__sim/requests?since=1')).json().map((r: { url: string }) => r.url)).toEqual(['/b'])
  })

  it('numbers requests on after the log is full and serves ?since= by number', async () => {
    const small = await startSimulator({ requestLog: 3 })
    try {
      for (const p of ['/1', '/2', '/3', '/4', '/5']) await http(small.url, p)
      expect(small.requests.map((r) => [r.seq, r.url])).toEqual([[3, '/3'], [4, '/4'], [5, '/5']])
      expect((await http(small.url, '/__sim/requests?since=4')).json().map((r: { url: string }) => r.url)).toEqual(['/5'])
      expect((await http(small.url, '/__sim/state')).json().requests).toBe(3)
    } finally {
      await small.close()
    }
  })

  it('resets over HTTP', async () => {
    await acceptedDevice(sim.url, ID, key)
    await http(sim.url, '/__sim/reset', { method: 'POST' })
    expect([sim.state.devices(), sim.requests.length, sim.counts.login]).toEqual([[], 0, 0])
  })

  it('invalidates device tokens on reset', async () => {
    const jwt = await acceptedDevice(sim.url, ID, key)
    sim.reset()
    const res = await http(sim.url, '/api/devices/v1/deployments/device/deployments/next', { headers: { authorization: `Bearer ${jwt}` } })
    expect(res.status).toBe(401)
  })

  it('changes an auth set status in process', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    sim.state.setAuthSetStatus(device.id, device.authSets[0]!.id, 'accepted')
    expect((await authRequest(sim.url, ID, key)).status).toBe(200)
  })
})
