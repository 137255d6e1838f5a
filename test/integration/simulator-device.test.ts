import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { acceptedDevice, deviceKey, http, login, type DeviceKey } from '../support/sim-helpers.js'

const ATTRS = '/api/devices/v1/inventory/device/attributes'
const NEXT_V1 = '/api/devices/v1/deployments/device/deployments/next'
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next'
const DEPLOYMENTS = '/api/devices/v1/deployments/device/deployments'
const ID = { mac: '02:00:00:00:00:09' }

async function * chunks (...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p)
}

describe('simulator device routes', () => {
  let sim: Simulator
  let key: DeviceKey
  let jwt: string
  beforeAll(async () => {
    sim = await startSimulator()
    key = deviceKey()
  })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    jwt = await acceptedDevice(sim.url, ID, key)
  })

  const call = async (method: string, path: string, body?: string | AsyncIterable<Buffer>, token = jwt) =>
    await http(sim.url, path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body } : {})
    })

  const attributes = (): unknown => sim.state.deviceByIdentity(ID)?.attributes

  it('stores inventory attributes sent with PUT', async () => {
    const res = await call('PUT', ATTRS, JSON.stringify([{ name: 'device_type', value: 'qemu' }]))
    expect([res.status, attributes()]).toEqual([200, [{ name: 'device_type', value: 'qemu' }]])
  })

  it('replaces every attribute on PUT', async () => {
    await call('PUT', ATTRS, JSON.stringify([{ name: 'a', value: 1 }]))
    await call('PUT', ATTRS, JSON.stringify([{ name: 'b', value: 2 }]))
    expect(attributes()).toEqual([{ name: 'b', value: 2 }])
  })

  it('merges attributes on PATCH', async () => {
    await call('PUT', ATTRS, JSON.stringify([{ name: 'a', value: 1 }]))
    await call('PATCH', ATTRS, JSON.stringify([{ name: 'b', value: 2, description: 'x' }]))
    expect(attributes()).toEqual([{ name: 'a', value: 1 }, { name: 'b', value: 2, description: 'x' }])
  })

  it('reads chunked request bodies', async () => {
    const res = await call('PATCH', ATTRS, chunks('[{"name":"ip",', '"value":"10.0.0.1"}]'))
    const logged = sim.requests.at(-1)!
    expect([res.status, logged.headers['transfer-encoding'], attributes()])
      .toEqual([200, 'chunked', [{ name: 'ip', value: '10.0.0.1' }]])
  })

  it('answers 400 to attributes that are not a list', async () => {
    expect((await call('PUT', ATTRS, '{"name":"a"}')).status).toBe(400)
  })

  it('answers 404 to the v2 deployments next, like the open-source server', async () => {
    expect((await call('POST', NEXT_V2, '{"device_provides":{}}')).status).toBe(404)
  })

  it('answers 204 (no deployment) to GET deployments next', async () => {
    const res = await call('GET', `${NEXT_V1}?artifact_name=a&device_type=qemu`)
    expect([res.status, res.text]).toEqual([204, ''])
  })

  it('answers 204 (no deployment) to POST deployments next', async () => {
    expect((await call('POST', NEXT_V1, '{"artifact_name":"a","device_type":"qemu"}')).status).toBe(204)
  })

  it('records deployment statuses', async () => {
    const res = await call('PUT', `${DEPLOYMENTS}/dep-1/status`, '{"status":"downloading"}')
    expect([res.status, sim.state.deploymentStatuses()]).toEqual([204, [expect.objectContaining({
      deviceId: sim.state.deviceByIdentity(ID)?.id, deploymentId: 'dep-1', status: 'downloading'
    })]])
  })

  it('answers 400 to an unknown deployment status', async () => {
    expect((await call('PUT', `${DEPLOYMENTS}/dep-1/status`, '{"status":"dancing"}')).status).toBe(400)
  })

  it('records deployment logs', async () => {
    const messages = [{ timestamp: '2024-01-01T00:00:00Z', level: 'INFO', message: 'ok' }]
    const res = await call('PUT', `${DEPLOYMENTS}/dep-1/log`, JSON.stringify({ messages }))
    expect([res.status, sim.state.deploymentLogs()[0]?.messages]).toEqual([204, messages])
  })

  it('answers 401 without a device token', async () => {
    expect((await http(sim.url, NEXT_V1)).status).toBe(401)
  })

  it('answers 401 to a user token on a device route', async () => {
    expect((await call('GET', NEXT_V1, undefined, await login(sim.url))).status).toBe(401)
  })

  it('answers 403 to an expired device token once, then 401', async () => {
    sim.faults.tokenLifetime({ device: 0 })
    const expired = await acceptedDevice(sim.url, { mac: 'expiring' }, deviceKey())
    const statuses = [(await call('GET', NEXT_V1, undefined, expired)).status, (await call('GET', NEXT_V1, undefined, expired)).status]
    expect(statuses).toEqual([403, 401])
  })

  it('answers 401 once the device is rejected', async () => {
    const device = sim.state.deviceByIdentity(ID)!
    sim.state.setAuthSetStatus(device.id, device.authSets[0]!.id, 'rejected')
    expect((await call('GET', NEXT_V1)).status).toBe(401)
  })

  it('answers 401 once the device is decommissioned', async () => {
    const token = await login(sim.url)
    const id = sim.state.deviceByIdentity(ID)!.id
    await http(sim.url, `/api/management/v2/devauth/devices/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
    expect((await call('GET', NEXT_V1)).status).toBe(401)
  })
})
