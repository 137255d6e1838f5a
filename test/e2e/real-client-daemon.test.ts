// The real Mender client in daemon mode and mender-connect through the gateway: after the auth, inventory and
// deployment polls reach Mender with the device JWT, and mender-connect's websocket arrives with Authorization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeviceView } from '../../src/tools/simulator/index.js'
import { startDaemon, startDbus, startMenderConnect, type Proc } from '../support/real-client.js'
import { deviceFor, eventually, requestsWithDeviceJwt, startStack, type Stack } from './support/stack.js'

const MAC = '02:00:00:00:02:01'
const NAME = 'daemon'
const WAIT_MS = 25_000

describe('real Mender client daemon and mender-connect through the gateway', () => {
  let stack: Stack
  let daemon: Proc
  let connect: Proc
  let device: DeviceView

  beforeAll(async () => {
    stack = await startStack()
    const cert = await stack.pki.device(NAME, 'ec')
    const bus = await startDbus()
    const dev = deviceFor(stack, NAME, MAC, cert, { dbus: true, pollSeconds: 2 })
    daemon = startDaemon(dev, bus)
    connect = startMenderConnect(dev, bus)
    device = await eventually(() => {
      const d = stack.sim.state.deviceByIdentity({ mac: MAC })
      return d?.status === 'accepted' ? d : undefined
    }, WAIT_MS)
  })

  afterAll(async () => { await stack?.close() })

  const logs = (): string => `daemon:\n${daemon.output()}\nmender-connect:\n${connect.output()}`
  const deviceRequests = (path: RegExp, method?: string): unknown[] | undefined => {
    const found = requestsWithDeviceJwt(stack.sim, device.id)
      .filter((r) => path.test(r.url) && (method === undefined || r.method === method))
    return found.length > 0 ? found : undefined
  }

  it('sends its inventory (PUT attributes) with the device JWT', async () => {
    await eventually(() => deviceRequests(/^\/api\/devices\/v1\/inventory\/device\/attributes$/, 'PUT'), WAIT_MS)
      .catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`) })
  })

  it('has its inventory attributes stored in Mender', async () => {
    const attrs = await eventually(() => {
      const found = stack.sim.state.device(device.id)?.attributes.find((a) => a.name === 'harness_device')
      return found
    }, WAIT_MS)
    expect(attrs.value).toBe(NAME)
  })

  it('polls for deployments with the device JWT', async () => {
    await eventually(() => deviceRequests(/\/deployments\/device\/deployments\/next/), WAIT_MS)
      .catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`) })
  })

  it('lets mender-connect open its websocket with Authorization', async () => {
    const conn = await eventually(() => stack.sim.state.connections().find((c) => c.deviceId === device.id), WAIT_MS)
      .catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`) })
    expect(conn.hadAuthorization).toBe(true)
  })

  it('keeps the websocket open after it is established', async () => {
    const conn = await eventually(() => stack.sim.state.connections().find((c) => c.deviceId === device.id), WAIT_MS)
    const settle = Date.parse(conn.openedAt) + 3000 - Date.now()
    if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle))
    expect(stack.sim.state.connections().find((c) => c.id === conn.id)?.closedAt).toBeUndefined()
  })
})
