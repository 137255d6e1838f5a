import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent } from 'undici'
import WebSocket from 'ws'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { USER, acceptedDevice, basic, deviceKey, http, selfSignedTls } from '../support/sim-helpers.js'

describe('simulator over HTTPS', () => {
  let sim: Simulator
  let ca: string
  let agent: Agent
  beforeAll(async () => {
    const tls = await selfSignedTls()
    ca = tls.cert
    sim = await startSimulator({ tls })
    agent = new Agent({ connect: { ca, rejectUnauthorized: true } })
  })
  afterAll(async () => {
    await agent.close()
    await sim.close()
  })

  it('reports an https URL', () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
  })

  it('serves login over verified TLS', async () => {
    const res = await http(sim.url, '/api/management/v1/useradm/auth/login', {
      method: 'POST', headers: { authorization: basic(USER.email, USER.password) }, dispatcher: agent
    })
    expect(res.status).toBe(200)
  })

  it('refuses plain HTTP clients that skip TLS', async () => {
    await expect(http(sim.url.replace('https', 'http'), '/__sim/state')).rejects.toThrow()
  })

  it('upgrades websockets over TLS', async () => {
    sim.reset()
    const jwt = await acceptedDevice({ url: sim.url, dispatcher: agent }, { mac: 'tls' }, deviceKey())
    const ws = new WebSocket(`${sim.url.replace(/^https/, 'wss')}/api/devices/v1/deviceconnect/connect`, { ca, headers: { authorization: `Bearer ${jwt}` } })
    await once(ws, 'open')
    ws.terminate()
    expect(sim.state.connections()).toHaveLength(1)
  })
})
