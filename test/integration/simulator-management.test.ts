import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { authRequest, deviceKey, http, login, preauth, type DeviceKey } from '../support/sim-helpers.js'

const DEVICES = '/api/management/v2/devauth/devices'
const ID = { mac: '02:00:00:00:00:07' }

describe('simulator devauth management', () => {
  let sim: Simulator
  let token: string
  let key: DeviceKey
  beforeAll(async () => {
    sim = await startSimulator()
    key = deviceKey()
  })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    token = await login(sim.url)
  })

  const call = async (method: string, path: string, body?: unknown, auth = `Bearer ${token}`) =>
    await http(sim.url, path, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })

  it('answers a preauthorization with 201, an empty body and Location devices/<id>', async () => {
    const res = await preauth(sim.url, token, ID, key.pem)
    const id = sim.state.deviceByIdentity(ID)?.id
    expect([res.status, res.text, res.headers.location]).toEqual([201, '', `devices/${id}`])
  })

  it('answers 409 with the existing device object (auth_sets null)', async () => {
    await preauth(sim.url, token, ID, key.pem)
    const res = await preauth(sim.url, token, ID, deviceKey().pem)
    expect([res.status, res.json()]).toEqual([409, expect.objectContaining({
      id: sim.state.deviceByIdentity(ID)?.id, identity_data: ID, status: 'preauthorized', decommissioning: false, auth_sets: null
    })])
  })

  it('answers 409 for a device that appeared as pending', async () => {
    await authRequest(sim.url, ID, key)
    expect((await preauth(sim.url, token, ID, key.pem)).status).toBe(409)
  })

  it('upserts with force: true and answers 201', async () => {
    await authRequest(sim.url, ID, key)
    const res = await preauth(sim.url, token, ID, key.pem, true)
    expect([res.status, sim.state.deviceByIdentity(ID)?.status]).toEqual([201, 'preauthorized'])
  })

  it('answers 400 with a Mender error body to a string identity_data', async () => {
    const res = await call('POST', DEVICES, { identity_data: JSON.stringify(ID), pubkey: key.pem })
    expect([res.status, res.json()]).toEqual([400, {
      error: expect.stringMatching(/^failed to decode preauth request: /), request_id: res.headers['x-men-requestid']
    }])
  })

  it('answers 400 to a body that is not JSON', async () => {
    expect((await http(sim.url, DEVICES, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{' })).status).toBe(400)
  })

  it('answers 401 to a preauthorization without a token', async () => {
    const res = await http(sim.url, DEVICES, { method: 'POST', body: JSON.stringify({ identity_data: ID, pubkey: key.pem }) })
    expect(res.status).toBe(401)
  })

  it('answers 401 to a preauthorization with a forged token', async () => {
    const [h, p] = token.split('.')
    expect((await preauth(sim.url, `${h}.${p}.AAAA`, ID, key.pem)).status).toBe(401)
  })

  it('lists devices with their auth sets', async () => {
    await preauth(sim.url, token, ID, key.pem)
    const res = await call('GET', DEVICES)
    expect(res.json()).toEqual([expect.objectContaining({
      identity_data: ID, status: 'preauthorized', auth_sets: [expect.objectContaining({ status: 'preauthorized', identity_data: ID })]
    })])
  })

  it('filters the list by status', async () => {
    await preauth(sim.url, token, ID, key.pem)
    await authRequest(sim.url, { mac: 'other' }, key)
    expect((await call('GET', `${DEVICES}?status=pending`)).json().map((d: { identity_data: unknown }) => d.identity_data))
      .toEqual([{ mac: 'other' }])
  })

  it('counts devices', async () => {
    await preauth(sim.url, token, ID, key.pem)
    expect((await call('GET', `${DEVICES}/count`)).json()).toEqual({ count: 1 })
  })

  it('gets one device', async () => {
    await preauth(sim.url, token, ID, key.pem)
    const id = sim.state.deviceByIdentity(ID)!.id
    expect((await call('GET', `${DEVICES}/${id}`)).json()).toMatchObject({ id, identity_data: ID })
  })

  it('answers 404 to an unknown device', async () => {
    expect((await call('GET', `${DEVICES}/nope`)).status).toBe(404)
  })

  it('decommissions a device with 204', async () => {
    await preauth(sim.url, token, ID, key.pem)
    const res = await call('DELETE', `${DEVICES}/${sim.state.deviceByIdentity(ID)!.id}`)
    expect([res.status, sim.state.devices()]).toEqual([204, []])
  })

  it('answers 404 with an empty body when deleting an unknown device', async () => {
    const res = await call('DELETE', `${DEVICES}/nope`)
    expect([res.status, res.text]).toEqual([404, ''])
  })

  it('accepts a pending auth set with PUT status, after which the device authenticates', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    const res = await call('PUT', `${DEVICES}/${device.id}/auth/${device.authSets[0]!.id}/status`, { status: 'accepted' })
    expect([res.status, (await authRequest(sim.url, ID, key)).status]).toEqual([204, 200])
  })

  it('answers 400 to an unknown auth set status', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    const res = await call('PUT', `${DEVICES}/${device.id}/auth/${device.authSets[0]!.id}/status`, { status: 'preauthorized' })
    expect(res.status).toBe(400)
  })

  it('answers 404 to a status change of an unknown auth set', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    expect((await call('PUT', `${DEVICES}/${device.id}/auth/nope/status`, { status: 'accepted' })).status).toBe(404)
  })

  it('reads an auth set status', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    expect((await call('GET', `${DEVICES}/${device.id}/auth/${device.authSets[0]!.id}/status`)).json()).toEqual({ status: 'pending' })
  })

  it('removes an auth set with 204', async () => {
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    const res = await call('DELETE', `${DEVICES}/${device.id}/auth/${device.authSets[0]!.id}`)
    expect([res.status, sim.state.device(device.id)?.authSets]).toEqual([204, []])
  })
})
