import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { acceptedDevice, deviceKey, login } from '../support/sim-helpers.js'

const CONNECT = '/api/devices/v1/deviceconnect/connect'

/** A hand-made HTTP/1.1 upgrade (like the Go client's), resolved with the 101 response; the socket is closed. */
async function rawUpgrade (base: string, headers: Record<string, string>): Promise<IncomingMessage> {
  const req = request(`${base}${CONNECT}`, {
    headers: {
      connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers
    }
  })
  req.end()
  const [res, socket] = await once(req, 'upgrade') as [IncomingMessage, Socket]
  socket.destroy()
  return res
}
const ID = { mac: '02:00:00:00:00:0a' }

describe('simulator deviceconnect websocket', () => {
  let sim: Simulator
  let jwt: string
  const sockets: WebSocket[] = []
  beforeAll(async () => { sim = await startSimulator() })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    jwt = await acceptedDevice(sim.url, ID, deviceKey())
  })
  afterEach(() => {
    for (const s of sockets.splice(0)) s.terminate()
  })

  const open = (headers: Record<string, string>, protocols?: string[], path = CONNECT): WebSocket => {
    const ws = new WebSocket(`${sim.url.replace(/^http/, 'ws')}${path}`, protocols, { headers })
    ws.on('error', () => {})
    sockets.push(ws)
    return ws
  }

  /** Status of a refused upgrade. */
  const refusal = async (ws: WebSocket): Promise<number> => {
    const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number }]
    return res.statusCode
  }

  it('upgrades a device with a valid Bearer JWT', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    expect(ws.readyState).toBe(WebSocket.OPEN)
  })

  it('records the connection with device id and Authorization presence', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    expect(sim.state.connections()).toEqual([expect.objectContaining({
      deviceId: sim.state.deviceByIdentity(ID)?.id, hadAuthorization: true, protocol: ''
    })])
  })

  it('negotiates the protomsg/msgpack subprotocol mender-connect offers', async () => {
    const res = await rawUpgrade(sim.url, { authorization: `Bearer ${jwt}`, 'sec-websocket-protocol': 'protomsg/msgpack' })
    expect([res.statusCode, res.headers['sec-websocket-protocol'], sim.state.connections()[0]?.protocol])
      .toEqual([101, 'protomsg/msgpack', 'protomsg/msgpack'])
  })

  it('sends X-MEN-RequestID on the 101 response', async () => {
    const res = await rawUpgrade(sim.url, { authorization: `Bearer ${jwt}`, 'x-men-requestid': 'ws-1' })
    expect(res.headers['x-men-requestid']).toBe('ws-1')
  })

  it('keeps the headers it received', async () => {
    const ws = open({ authorization: `Bearer ${jwt}`, 'x-trace': 'abc' })
    await once(ws, 'open')
    expect(sim.state.connections()[0]?.headers['x-trace']).toBe('abc')
  })

  it('echoes binary messages', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    ws.send(Buffer.from([1, 2, 3]))
    const [data, isBinary] = await once(ws, 'message') as [Buffer, boolean]
    expect([[...data], isBinary]).toEqual([[1, 2, 3], true])
  })

  it('echoes text messages', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    ws.send('hello')
    const [data] = await once(ws, 'message') as [Buffer]
    expect(data.toString()).toBe('hello')
  })

  it('answers pings', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    ws.ping(Buffer.from('p'))
    const [payload] = await once(ws, 'pong') as [Buffer]
    expect(payload.toString()).toBe('p')
  })

  it('accepts the JWT as a cookie', async () => {
    const ws = open({ cookie: `JWT=${jwt}` })
    await once(ws, 'open')
    expect(sim.state.connections()[0]?.hadAuthorization).toBe(false)
  })

  it('refuses an upgrade without a token (401)', async () => {
    expect(await refusal(open({}))).toBe(401)
  })

  it('refuses a user token (401)', async () => {
    expect(await refusal(open({ authorization: `Bearer ${await login(sim.url)}` }))).toBe(401)
  })

  it('refuses an expired device token with 403', async () => {
    sim.faults.tokenLifetime({ device: 0 })
    const expired = await acceptedDevice(sim.url, { mac: 'old' }, deviceKey())
    expect(await refusal(open({ authorization: `Bearer ${expired}` }))).toBe(403)
  })

  it('answers 404 to upgrades on other paths', async () => {
    expect(await refusal(open({ authorization: `Bearer ${jwt}` }, undefined, '/api/devices/v1/elsewhere'))).toBe(404)
  })

  it('logs the upgrade request', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    expect(sim.requests.filter((r) => r.group === 'websocket').map((r) => r.url)).toEqual([CONNECT])
  })

  it('closes open connections on reset', async () => {
    const ws = open({ authorization: `Bearer ${jwt}` })
    await once(ws, 'open')
    sim.reset()
    await once(ws, 'close')
    expect(ws.readyState).toBe(WebSocket.CLOSED)
  })
})
