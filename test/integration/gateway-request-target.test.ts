// Request targets over real mTLS: the upstream is always the configured backend (HTTP requests and websocket
// upgrades alike), only canonical paths are forwarded, absolute-form targets are served in origin form or refused,
// and a refused upgrade never leaves a raw pipe to Mender.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import type { Agent } from 'undici'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, postAuth, AUTH_URL_PATH } from '../support/device.js'
import { closeServer, listenOnLoopback } from '../support/local-server.js'
import { jsonBody, openRaw, rawExchange, readAll } from '../support/raw-tls.js'
import type { TestPki } from '../support/pki.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

let backend: Backend
let pki: TestPki
let sim: Simulator
let gw: GatewayHandle
let agent: Agent
let jwt: string
let internal: Server
let internalPort: number
const internalHits: string[] = []

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  gw = await startGateway({ pki, backendUrl: sim.url })
  agent = deviceAgent(pki, pki.devices.ec)
  jwt = (await postAuth(agent, gw.url, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:07:01' }))).text
  internal = createServer((req, res) => { internalHits.push(req.url ?? ''); res.end('internal') })
  internal.on('upgrade', (req, socket) => { internalHits.push(`upgrade ${req.url ?? ''}`); socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n') })
  internalPort = Number(new URL(await listenOnLoopback(internal)).port)
})

afterAll(async () => {
  await agent?.close()
  await gw?.close()
  if (internal !== undefined) await closeServer(internal)
  await backend?.close()
})

beforeEach(() => { sim.requests.length = 0; internalHits.length = 0 })

const upgradeHead = (target: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${jwt}\r\n${extra}\r\n`

const get = (target: string): string => `GET ${target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\nConnection: close\r\n\r\n`

function statusUrlPort (): number { return Number(new URL(gw.statusUrl).port) }

describe('the upstream is always the configured backend', () => {
  const hostileTargets = (port: number): string[] => [
    `//127.0.0.1:${port}/../api/devices/x`,
    `/\\127.0.0.1:${port}/../api/devices/x`,
    `///127.0.0.1:${port}/../api/devices/x`,
    `//127.0.0.1:${port}/%2e%2e/api/devices/x`,
    `//127.0.0.1:${port}/api/devices/x`
  ]

  it('never dials another host for a websocket upgrade, whatever the target', async () => {
    for (const target of hostileTargets(internalPort)) {
      const answer = await rawExchange(gw.port, pki, pki.devices.ec, upgradeHead(target))
      expect(answer.status, target).toBeGreaterThanOrEqual(400)
      expect(answer.status, target).toBeLessThan(500)
      expect(Object.keys(jsonBody(answer.text) ?? {}).sort(), target).toEqual(['error', 'request_id'])
    }
    expect(internalHits).toEqual([])
    expect(sim.requests.length).toBe(0)
  })

  it('never reaches the gateway\'s own status listener through an upgrade target', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, upgradeHead(`//127.0.0.1:${statusUrlPort()}/../metrics`))
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expect(answer.text).not.toMatch(/mtls_requests_total/)
  })

  it('never dials another host for an HTTP request, whatever the target', async () => {
    for (const target of hostileTargets(internalPort)) {
      const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(target))
      expect(answer.status, target).toBeGreaterThanOrEqual(400)
      expect(answer.status, target).toBeLessThan(500)
    }
    expect(internalHits).toEqual([])
    expect(sim.requests.length).toBe(0)
  })
})

describe('a refused upgrade', () => {
  it('relays Mender\'s non-101 answer and closes the connection, so later bytes never reach Mender', async () => {
    const authBefore = sim.counts.auth_requests
    const socket = await openRaw(gw.port, pki, pki.devices.ec)
    try {
      // a bad device token: the backend answers the upgrade with 401
      const head = upgradeHead('/api/devices/v1/deviceconnect/connect').replace(`Bearer ${jwt}`, 'Bearer not-a-token')
      const unchecked = Buffer.from(JSON.stringify({ id_data: '{"mac":"02:00:00:00:07:99"}', pubkey: 'x' }))
      socket.write(head)
      const answer = await readAll(socket, 1500)
      expect(answer.status).toBe(401)
      expect(answer.closed).toBe(true)
      if (!socket.destroyed) {
        socket.write(`POST ${AUTH_URL_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${unchecked.length}\r\n\r\n${unchecked.toString()}`)
        await readAll(socket, 500)
      }
    } finally {
      socket.destroy()
    }
    expect(sim.counts.auth_requests).toBe(authBefore)
    expect(sim.state.deviceByIdentity({ mac: '02:00:00:00:07:99' })).toBeUndefined()
  })

  it('never pipes later bytes to a keep-alive backend that refused the upgrade', async () => {
    // like a keep-alive front proxy before Mender: it answers the upgrade with 401 and keeps reading the connection
    const seen: string[] = []
    const keepAlive = createNetServer((sock) => {
      let buf = ''
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1')
        let end = buf.indexOf('\r\n\r\n')
        while (end >= 0) {
          const line = buf.slice(0, buf.indexOf('\r\n'))
          seen.push(line)
          buf = buf.slice(end + 4)
          sock.write(line.startsWith('GET /api/devices/v1/deviceconnect')
            ? 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'
            : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
          end = buf.indexOf('\r\n\r\n')
        }
      })
    })
    await new Promise<void>((resolve) => keepAlive.listen(0, '127.0.0.1', resolve))
    const g = await startGateway({ pki, backendUrl: `http://127.0.0.1:${(keepAlive.address() as AddressInfo).port}` })
    const socket = await openRaw(g.port, pki, pki.devices.ec)
    try {
      socket.write(upgradeHead('/api/devices/v1/deviceconnect/connect'))
      const answer = await readAll(socket, 1000)
      expect(answer.status).toBe(401)
      if (!socket.destroyed) {
        socket.write(`POST ${AUTH_URL_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n`)
        await readAll(socket, 800)
      }
    } finally {
      socket.destroy()
      await g.close()
      keepAlive.close()
    }
    expect(seen.filter((l) => l.includes('/api/devices/'))).toEqual(['GET /api/devices/v1/deviceconnect/connect HTTP/1.1'])
  })
})

describe('only canonical paths are forwarded', () => {
  const AUTH = AUTH_URL_PATH
  const NEXT = '/api/devices/v1/deployments/device/deployments/next'
  const refused = [
    `${AUTH};x`, `${AUTH};jsessionid=1`, `${AUTH}%3b`, `${AUTH}%3B`, `${AUTH}%00`, `${AUTH}%20`, `${AUTH}%09`,
    `${AUTH}.`, `${AUTH}%2e`, `${AUTH}%2E`, `${AUTH}/`, '/api/devices/v1/authentication/auth%5Frequests',
    '/api/devices/v1/authentication/auth_reque%C5%BFts', '/api/devices/v1/authent%C4%B1cation/auth_requests',
    '/api/devices/v1/./deployments/device/deployments/next', '/api/devices/v1/x/../deployments/device/deployments/next',
    '/api/devices/v1/%2e%2e/v1/deployments/device/deployments/next', '/api/devices/v1/%2E/deployments',
    '/api/devices//v1/deployments', '/api/devices/v1%2fdeployments', '/api/devices/v1%5cdeployments',
    '/api/devices/v1/%61bc', '/api/devices/v1/abc;x=1', '/api/devices/v1/abc%00', '/api/devices/v1/a%zz',
    '/api/devices/v1/a%', `${NEXT}#frag`, '/api/devices/v1/inventory\\device', '/api/devices/..', '/api/devices/v1/..%2f'
  ]

  it.each(refused)('refuses %j with a coded 4xx and forwards nothing', async (target) => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(target))
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expect(answer.status).toBeLessThan(500)
    const body = jsonBody(answer.text)
    expect(Object.keys(body ?? {}).sort()).toEqual(['error', 'request_id'])
    const line = gw.logs.find((l) => l.reqId === body?.request_id && typeof l.code === 'string' && l.code.startsWith('MTLS_ERR_'))
    expect(line?.code).toMatch(/^MTLS_ERR_(BAD_TARGET|AUTH_PATH_ALIAS|NOT_FOUND)$/)
    expect(sim.requests.length).toBe(0)
  })

  it.each(refused)('refuses the upgrade %j with a coded 4xx and forwards nothing', async (target) => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, upgradeHead(target))
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expect(answer.status).toBeLessThan(500)
    expect(sim.requests.length).toBe(0)
  })

  it('forwards a canonical path with its query string unchanged', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(`${NEXT}?artifact_name=release%2D1&device_type=rpi4`))
    expect(answer.status).toBe(204)
    expect(sim.requests.at(-1)?.url).toBe(`${NEXT}?artifact_name=release%2D1&device_type=rpi4`)
  })

  it('forwards percent-encoded reserved characters inside a segment', async () => {
    await rawExchange(gw.port, pki, pki.devices.ec, get('/api/devices/v1/some/a%2Bb%40c'))
    expect(sim.requests.at(-1)?.url).toBe('/api/devices/v1/some/a%2Bb%40c')
  })
})

describe('absolute-form targets', () => {
  it('serves an absolute-form target naming this gateway in origin form', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(`https://localhost:${gw.port}/api/devices/v1/deployments/device/deployments/next`))
    expect(answer.status).toBe(204)
    expect(sim.requests.at(-1)?.url).toBe('/api/devices/v1/deployments/device/deployments/next')
    expect(sim.requests.at(-1)?.headers.host).toBe(new URL(sim.url).host)
  })

  it('answers 421 MTLS_ERR_MISDIRECTED for an absolute-form target naming another host, and dials nothing', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(`https://127.0.0.1:${internalPort}/api/devices/v1/x`))
    expect(answer.status).toBe(421)
    expect(internalHits).toEqual([])
    expect(sim.requests.length).toBe(0)
  })

  it('refuses an absolute-form upgrade naming another host without dialling it', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, upgradeHead(`http://127.0.0.1:${internalPort}/api/devices/v1/x`))
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expect(answer.status).toBeLessThan(500)
    expect(internalHits).toEqual([])
  })

  it.each(['http://localhost/api/devices/v1/x', 'https://user@localhost/api/devices/v1/x', '*', 'localhost:443'])(
    'refuses %j with a 4xx, never a 500', async (target) => {
      const answer = await rawExchange(gw.port, pki, pki.devices.ec, get(target))
      expect(answer.status).toBeGreaterThanOrEqual(400)
      expect(answer.status).toBeLessThan(500)
      expect(sim.requests.length).toBe(0)
    })
})
