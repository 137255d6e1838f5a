// Shutdown with open websockets: each side of a tunnelled websocket gets a close frame 1001 "going away" (the device
// unmasked, Mender masked, as RFC 6455 wants), messages sent before it arrive whole, and close() finishes.
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { TestPki } from '../support/pki.js'
import { startGateway, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, eventually, postAuth } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

let pki: TestPki
let sim: Simulator
let backend: Backend

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
})

afterAll(async () => {
  await backend?.close()
})

async function openSocket (port: number, jwt: string): Promise<WebSocket> {
  const ws = new WebSocket(`wss://localhost:${port}/api/devices/v1/deviceconnect/connect`, {
    ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: { authorization: `Bearer ${jwt}` }
  })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return ws
}

it('sends close 1001 to the device and to Mender on shutdown, after the messages in flight', async () => {
  const gw = await startGateway({ pki, backendUrl: sim.url })
  const agent = deviceAgent(pki, pki.devices.ec)
  try {
    const jwt = (await postAuth(agent, gw.url, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:05:01' }))).text
    const ws = await openSocket(gw.port, jwt)
    const echoed: number[] = []
    ws.on('message', (data: Buffer) => echoed.push(data.length))
    const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })))
    // a large message (several TLS records and TCP segments) still on its way back when shutdown starts
    ws.send(Buffer.alloc(256 * 1024, 7))
    await eventually(() => echoed.length === 1, 5000)
    ws.send(Buffer.alloc(1000, 1))
    await eventually(() => echoed.length === 2, 5000)
    const started = Date.now()
    await gw.close()
    expect((await closed).code).toBe(1001)
    expect(echoed).toEqual([256 * 1024, 1000])
    expect(Date.now() - started).toBeLessThan(5000)
    expect(await eventually(() => sim.state.connections().at(-1)?.closeCode === 1001, 3000)).toBe(true)
    expect(gw.logs.some((l) => l.event === 'websocket_closed' && l.reason === 'going_away')).toBe(true)
  } finally {
    await agent.close()
  }
})
