// A device that goes away mid-request (its connection reset while the body is still coming, or while Mender is
// still answering) is nobody's failure: no 500, no error-level line, an info line `device_gone` at most, and the
// gateway keeps serving. The benchmark's load generator stopping at the end of a run is exactly this case.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connect, type TLSSocket } from 'node:tls'
import type { Agent } from 'undici'
import type { TestPki } from '../support/pki.js'
import { type GatewayHandle, openAdmitted, type AdmittedSetup } from '../support/gateway.js'
import { authRequest, send } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const INVENTORY = '/api/devices/v1/inventory/device/attributes'
const AUTH = '/api/devices/v1/authentication/auth_requests'

let pki: TestPki
let sim: Simulator
let setup: AdmittedSetup
let gw: GatewayHandle
let agent: Agent
let jwt: string

beforeAll(async () => {
  setup = await openAdmitted('02:00:00:00:0a:01')
  ;({ pki, sim, gw, agent, jwt } = setup)
})

afterAll(async () => { await setup?.close() })

beforeEach(() => { sim.faults.clear() })

async function device (): Promise<TLSSocket> {
  const socket = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
  await new Promise((resolve) => socket.once('secureConnect', resolve))
  return socket
}

const settle = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** The lines written for request `id`, once the gateway has had time to finish with it. */
async function linesOf (id: string): Promise<Array<Record<string, unknown>>> {
  await settle(400)
  return gw.logs.filter((l) => l.reqId === id) as Array<Record<string, unknown>>
}

function expectNoFailure (lines: Array<Record<string, unknown>>): void {
  expect(lines.filter((l) => Number(l.level) >= 50 || l.level === 'error')).toEqual([])
  expect(lines.filter((l) => l.status === 500 || l.code === 'MTLS_ERR_INTERNAL')).toEqual([])
}

describe('a device that goes away mid-request', () => {
  it('during a proxied upload: no 500 and no error line, and the gateway keeps serving', async () => {
    const s = await device()
    s.write(`PUT ${INVENTORY} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: application/json\r\n` +
      'X-MEN-RequestID: gone-upload\r\nContent-Length: 100000\r\n\r\n[' + ' '.repeat(2000))
    await settle(300)
    s.destroy()
    expectNoFailure(await linesOf('gone-upload'))
    expect((await send(agent, gw.url + INVENTORY, { headers: { authorization: `Bearer ${jwt}` } })).status).toBeLessThan(500)
  })

  it('during an auth request body: no 500, no error line, nothing preauthorized', async () => {
    const before = sim.requests.filter((r) => r.url.includes('preauth')).length
    const s = await device()
    s.write(`POST ${AUTH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-MEN-RequestID: gone-auth\r\n` +
      'Content-Length: 5000\r\n\r\n{"id_data":')
    await settle(300)
    s.destroy()
    expectNoFailure(await linesOf('gone-auth'))
    expect(sim.requests.filter((r) => r.url.includes('preauth')).length).toBe(before)
  })

  it('while Mender is still answering its auth request: no 500 and no error line', async () => {
    sim.faults.latency('auth_requests', 600)
    const body = authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:0a:02' })
    const s = await device()
    s.write(`POST ${AUTH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-MEN-Signature: ${String(body.headers['x-men-signature'])}\r\n` +
      `X-MEN-RequestID: gone-auth-wait\r\nContent-Length: ${body.body.length}\r\n\r\n${body.body.toString()}`)
    await settle(300)
    s.destroy()
    await settle(700)
    const lines = await linesOf('gone-auth-wait')
    expect(lines.some((l) => l.event === 'auth_decision' && l.decision !== 'refused')).toBe(true)
    expectNoFailure(lines)
  })

  it('while Mender is still answering: no 500 and no error line', async () => {
    sim.faults.latency('device', 600)
    const s = await device()
    s.write(`GET ${INVENTORY} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\nX-MEN-RequestID: gone-wait\r\n\r\n`)
    await settle(200)
    s.destroy()
    await settle(700)
    expectNoFailure(await linesOf('gone-wait'))
  })
})
