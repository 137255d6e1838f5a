// Draining in process: the request in flight when close() begins completes and tells the client to close its
// connection; a request pipelined behind it on that connection is never forwarded to Mender.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect } from 'node:tls'
import type { TestPki } from '../support/pki.js'
import { startGateway, openBackend, type Backend } from '../support/gateway.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const NEXT = '/api/devices/v1/deployments/device/deployments/next'
let pki: TestPki
let sim: Simulator
let backend: Backend

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
})

afterAll(async () => {
  await backend?.close()
})

it('finishes the in-flight request with Connection: close and forwards nothing that arrives while draining', async () => {
  const gw = await startGateway({ pki, backendUrl: sim.url })
  sim.faults.latency('device', 400)
  const socket = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
  try {
    let received = ''
    socket.on('data', (d: Buffer) => { received += d.toString() })
    const ended = new Promise((resolve) => socket.on('close', resolve))
    await new Promise((resolve) => socket.once('secureConnect', resolve))
    socket.write(`GET ${NEXT} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const closing = gw.close()
    socket.write(`GET ${NEXT} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    await closing
    await ended
    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    expect(statuses[0]).toBe('401')
    expect(received).toMatch(/\r\nconnection: close\r\n/i)
    expect(statuses.slice(1).every((s) => s === '503')).toBe(true)
    expect(sim.requests.filter((r) => r.url === NEXT).length).toBe(1)
  } finally {
    sim.faults.clear()
    socket.destroy()
  }
})
