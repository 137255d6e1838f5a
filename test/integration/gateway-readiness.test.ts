// Readiness means "can serve devices": /readyz answers at once and stays 200 while the management login fails or
// hangs (reported as an advisory check, the mtls_management_up gauge and a log line on each transition), while
// devices still get 503 MTLS_ERR_MGMT_UNAVAILABLE for preauthorizations that cannot be made.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request, type Agent } from 'undici'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, eventually, postAuth } from '../support/device.js'

let backend: Backend
let agent: Agent
let gw: GatewayHandle | undefined

beforeAll(async () => {
  backend = await openBackend()
  agent = deviceAgent(backend.pki, backend.pki.devices.ec)
})

afterEach(async () => {
  backend.sim.faults.clear()
  await gw?.close()
  gw = undefined
})

afterAll(async () => {
  await agent?.close()
  await backend?.close()
})

interface ReadyBody { status: string, checks: Record<string, { ok: boolean, advisory?: boolean, detail?: string }> }

async function readyz (): Promise<{ status: number, body: ReadyBody, ms: number }> {
  const started = performance.now()
  const res = await request(`${gw?.statusUrl ?? ''}/readyz`)
  const body = await res.body.json() as ReadyBody
  return { status: res.statusCode, body, ms: performance.now() - started }
}

async function managementUp (): Promise<number | undefined> {
  const text = await (await request(`${gw?.statusUrl ?? ''}/metrics`)).body.text()
  const line = text.split('\n').find((l) => l.startsWith('mtls_management_up{') && l.includes('tenant="default"'))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

const start = async (): Promise<GatewayHandle> => {
  gw = await startGateway({ pki: backend.pki, backendUrl: backend.sim.url })
  return gw
}

describe('readiness while the management API is down', () => {
  it('answers 200 at once with management not ok (advisory) while every login fails with 503', async () => {
    backend.sim.faults.failNext('login', 503, 1000)
    const g = await start()
    expect(await eventually(() => g.withCode('MTLS_WARN_MGMT_DOWN').length > 0)).toBe(true)
    const r = await readyz()
    expect(r.status).toBe(200)
    expect(r.ms).toBeLessThan(1000)
    expect(r.body.status).toBe('ready')
    expect(r.body.checks.management).toMatchObject({ ok: false, advisory: true })
    expect(r.body.checks.management?.detail).toContain('MTLS_ERR_MGMT_UNAVAILABLE')
    expect(await managementUp()).toBe(0)
  })

  it('answers 200 promptly while a login hangs', async () => {
    backend.sim.faults.latency('login', 2000)
    await start()
    const r = await readyz()
    expect([r.status, r.ms < 1000]).toEqual([200, true])
  })

  it('still answers devices 503 MTLS_ERR_MGMT_UNAVAILABLE while the login fails', async () => {
    backend.sim.faults.failNext('login', 503, 1000)
    const g = await start()
    const res = await postAuth(agent, g.url, authRequest(backend.pki.devices.ec.keyPem, { mac: '02:00:00:00:19:01' }))
    expect(res.status).toBe(503)
    expect(g.withCode('MTLS_ERR_MGMT_UNAVAILABLE').length).toBeGreaterThan(0)
    expect((await readyz()).status).toBe(200)
  })

  it('reports the recovery: management ok, gauge 1 and MTLS_INFO_MGMT_UP once a login succeeds again', async () => {
    backend.sim.faults.failNext('login', 503, 1000)
    const g = await start()
    expect(await eventually(() => g.withCode('MTLS_WARN_MGMT_DOWN').length > 0)).toBe(true)
    backend.sim.faults.clear()
    // every probe starts a background login when none is in flight
    for (let i = 0; i < 60 && g.withCode('MTLS_INFO_MGMT_UP').length === 0; i++) {
      await readyz()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(g.withCode('MTLS_INFO_MGMT_UP')).toHaveLength(1)
    const r = await readyz()
    expect(r.body.checks.management).toMatchObject({ ok: true, advisory: true })
    expect(await managementUp()).toBe(1)
    expect(g.withCode('MTLS_WARN_MGMT_DOWN')).toHaveLength(1)
  })
})
