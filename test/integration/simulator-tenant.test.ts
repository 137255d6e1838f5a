import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { authRequest, deviceKey, http, jwtClaims, login, preauth, type DeviceKey } from '../support/sim-helpers.js'

const ID = { mac: '02:00:00:00:00:0b' }

describe('simulator multi-tenant mode', () => {
  let sim: Simulator
  let key: DeviceKey
  let tokenA: string
  beforeAll(async () => {
    sim = await startSimulator({
      multiTenant: true,
      users: [{ email: 'a@example.com', password: 'pa', tenant: 'tenant-a' }, { email: 'b@example.com', password: 'pb', tenant: 'tenant-b' }],
      tenantTokens: { 'token-a': 'tenant-a', 'token-b': 'tenant-b' }
    })
    key = deviceKey()
  })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    tokenA = await login(sim.url, 'a@example.com', 'pa')
  })

  it('puts the user tenant into the login JWT', async () => {
    expect(jwtClaims(tokenA)['mender.tenant']).toBe('tenant-a')
  })

  it('lands a preauthorization in the tenant of the user', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    expect(sim.state.devices().map((d) => d.tenant)).toEqual(['tenant-a'])
  })

  it('admits a device whose tenant token maps to the preauthorizing tenant', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    const res = await authRequest(sim.url, ID, key, { tenantToken: 'token-a' })
    expect([res.status, jwtClaims(res.text)['mender.tenant']]).toEqual([200, 'tenant-a'])
  })

  it('keeps a device authenticating into another tenant pending', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    const res = await authRequest(sim.url, ID, key, { tenantToken: 'token-b' })
    expect([res.status, sim.state.deviceByIdentity(ID, 'tenant-b')?.status, sim.state.deviceByIdentity(ID, 'tenant-a')?.status])
      .toEqual([401, 'pending', 'preauthorized'])
  })

  it('refuses an unknown tenant token', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    expect((await authRequest(sim.url, ID, key, { tenantToken: 'forged' })).status).toBe(401)
  })

  it('refuses an auth request without a tenant token', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    expect((await authRequest(sim.url, ID, key)).status).toBe(401)
  })

  it('hides the devices of one tenant from the users of another', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    const tokenB = await login(sim.url, 'b@example.com', 'pb')
    const res = await http(sim.url, '/api/management/v2/devauth/devices', { headers: { authorization: `Bearer ${tokenB}` } })
    expect(res.json()).toEqual([])
  })

  it('lets each tenant preauthorize the same identity without conflict', async () => {
    await preauth(sim.url, tokenA, ID, key.pem)
    const tokenB = await login(sim.url, 'b@example.com', 'pb')
    expect((await preauth(sim.url, tokenB, ID, key.pem)).status).toBe(201)
  })
})
