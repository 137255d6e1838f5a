// The device proxy over real sockets: every method and path under /api/devices reaches Mender intact (Host
// rewritten, forwarded headers set, chunked bodies whole, websockets with Authorization); nothing else does; backend
// failures answer 502/503/504 in Mender's error shape.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Readable } from 'node:stream'
import { connect } from 'node:tls'
import WebSocket from 'ws'
import type { Agent } from 'undici'
import type { TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openAdmitted, type AdmittedSetup } from '../support/gateway.js'
import { send } from '../support/device.js'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'

const INVENTORY = '/api/devices/v1/inventory/device/attributes'
const NEXT_V1 = '/api/devices/v1/deployments/device/deployments/next'
const CONNECT = '/api/devices/v1/deviceconnect/connect'

let pki: TestPki
let sim: Simulator
let setup: AdmittedSetup
let gw: GatewayHandle
let agent: Agent
let jwt: string

beforeAll(async () => {
  setup = await openAdmitted('02:00:00:00:02:01')
  ;({ pki, sim, gw, agent, jwt } = setup)
})

afterAll(async () => { await setup?.close() })

beforeEach(() => { sim.requests.length = 0; sim.faults.clear() })

const bearer = (): Record<string, string> => ({ authorization: `Bearer ${jwt}` })

/** Sends a raw websocket upgrade over mTLS and resolves with the first bytes of the answer. */
async function rawUpgrade (port: number, path: string, headers: Record<string, string>): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
  try {
    await new Promise((resolve) => socket.once('secureConnect', resolve))
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`)
    return await new Promise((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())))
  } finally {
    socket.destroy()
  }
}
const last = (): Simulator['requests'][number] | undefined => sim.requests.at(-1)

describe('device proxy', () => {
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']) {
    it(`forwards ${method} with its path and query string`, async () => {
      await send(agent, `${gw.url}/api/devices/v1/some/route?a=1&b=two`, { method, headers: bearer() })
      expect(last()?.method).toBe(method)
      expect(last()?.url).toBe('/api/devices/v1/some/route?a=1&b=two')
    })
  }

  it('answers with the backend\'s status and body', async () => {
    const res = await send(agent, gw.url + NEXT_V1, { headers: bearer() })
    expect(res.status).toBe(204)
  })

  it('writes one access line per proxied request: its request id and fixed fields, never a header', async () => {
    const res = await send(agent, gw.url + NEXT_V1 + '?artifact_name=a', { headers: { ...bearer(), 'x-men-requestid': 'access-line-1' } })
    expect(res.headers['x-men-requestid']).toBe('access-line-1')
    const lines = gw.logs.filter((l) => l.reqId === 'access-line-1' && l.event === 'access')
    expect(lines).toHaveLength(1)
    const line = lines[0] as Record<string, unknown>
    expect(Object.keys(line).sort()).toEqual(['device', 'event', 'http', 'level', 'method', 'ms', 'msg', 'reqId', 'service', 'status', 'time', 'url'])
    expect(line).toMatchObject({ level: 'info', http: '1.1', method: 'GET', url: NEXT_V1 + '?artifact_name=a', status: 204, msg: 'request' })
    expect(line.device).toMatchObject({ cn: 'ec', tenant: 'default' })
    expect(String(line.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('rewrites Host to the upstream', async () => {
    await send(agent, gw.url + NEXT_V1, { headers: bearer() })
    expect(last()?.headers.host).toBe(new URL(sim.url).host)
  })

  it('replaces an inbound X-Forwarded-For and sets X-Forwarded-Proto', async () => {
    await send(agent, gw.url + NEXT_V1, { headers: { ...bearer(), 'x-forwarded-for': '203.0.113.9' } })
    expect(last()?.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(last()?.headers['x-forwarded-proto']).toBe('https')
  })

  it('keeps the device Authorization header', async () => {
    await send(agent, gw.url + NEXT_V1, { headers: bearer() })
    expect(last()?.headers.authorization).toBe(`Bearer ${jwt}`)
  })

  it('delivers a chunked request body intact', async () => {
    const attrs = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ name: `attr${i}`, value: `value-${i}` })))
    const chunks = attrs.match(/.{1,500}/gs) ?? []
    const res = await send(agent, gw.url + INVENTORY, {
      method: 'PUT',
      body: Readable.from(chunks.map((c) => Buffer.from(c))) as never,
      headers: { ...bearer(), 'content-type': 'application/json' }
    })
    expect(res.status).toBe(200)
    expect(last()?.bodyBytes.toString()).toBe(attrs)
    expect(sim.state.deviceByIdentity({ mac: '02:00:00:00:02:01' })?.attributes.length).toBe(200)
  })

  it('keeps Mender\'s connection headers to itself: a device asking to close gets its connection closed', async () => {
    const socket = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
    let data = ''
    socket.on('data', (d: Buffer) => { data += d.toString() })
    await new Promise((resolve) => socket.once('secureConnect', resolve))
    socket.write(`GET ${NEXT_V1} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\nConnection: close\r\n\r\n`)
    const closedInTime = await Promise.race([
      new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))
    ])
    socket.destroy()
    expect(closedInTime).toBe(true)
    expect(data).toMatch(/\r\nconnection: close\r\n/i)
    expect(data).not.toMatch(/keep-alive/i)
  })

  it('answers 404 for paths outside /api/devices and forwards nothing', async () => {
    for (const path of ['/api/management/v1/useradm/auth/login', '/', '/__sim/state', '/api/devicesx']) {
      const res = await send(agent, gw.url + path, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
      expect(res.status).toBe(404)
    }
    expect(sim.requests.length).toBe(0)
  })

  it('passes a websocket upgrade through with the Authorization header', async () => {
    const ws = new WebSocket(`wss://localhost:${gw.port}${CONNECT}`, {
      ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: bearer()
    })
    try {
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const echoed = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)))
      ws.send(Buffer.from([1, 2, 3]))
      expect([...await echoed]).toEqual([1, 2, 3])
      const conn = sim.state.connections().at(-1)
      expect(conn?.hadAuthorization).toBe(true)
    } finally {
      ws.close()
    }
  })

  it('tunnels the upgrade byte for byte, Sec-WebSocket-Protocol protomsg/msgpack included', async () => {
    const answer = await rawUpgrade(gw.port, CONNECT, { 'Sec-WebSocket-Protocol': 'protomsg/msgpack', Authorization: `Bearer ${jwt}` })
    expect(answer).toMatch(/^HTTP\/1\.1 101/)
    expect(answer).toMatch(/sec-websocket-protocol: protomsg\/msgpack/i)
    const conn = sim.state.connections().at(-1)
    expect(conn?.protocol).toBe('protomsg/msgpack')
    expect(conn?.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(conn?.headers.host).toBe(new URL(sim.url).host)
  })

  it('removes an inbound X-Forwarded-Client-Cert from a websocket upgrade', async () => {
    const answer = await rawUpgrade(gw.port, CONNECT, { Authorization: `Bearer ${jwt}`, 'X-Forwarded-Client-Cert': 'Hash=forged' })
    expect(answer).toMatch(/^HTTP\/1\.1 101/)
    expect(sim.state.connections().at(-1)?.headers['x-forwarded-client-cert']).toBeUndefined()
  })

  it('refuses an upgrade outside /api/devices with 404 and forwards nothing', async () => {
    const answer = await rawUpgrade(gw.port, '/api/management/v1/deviceconnect/sessions', { Authorization: `Bearer ${jwt}` })
    expect(answer).toMatch(/^HTTP\/1\.1 404/)
    expect(answer).toMatch(/"error":"not found","request_id"/)
    expect(sim.requests.length).toBe(0)
  })

  it('answers an upgrade with 502 MTLS_ERR_UPSTREAM_CONNECT when Mender is unreachable', async () => {
    const g = await startGateway({ pki, backendUrl: 'http://127.0.0.1:1' })
    try {
      const answer = await rawUpgrade(g.port, CONNECT, { Authorization: `Bearer ${jwt}` })
      expect(answer).toMatch(/^HTTP\/1\.1 502/)
      expect(g.withCode('MTLS_ERR_UPSTREAM_CONNECT').length).toBe(1)
    } finally { await g.close() }
  })

  it('closes open websocket tunnels on shutdown', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url })
    const ws = new WebSocket(`wss://localhost:${g.port}${CONNECT}`, { ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: bearer() })
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    const closed = new Promise((resolve) => ws.once('close', resolve))
    expect(await g.metric('mtls_open_websockets')).toBe(1)
    await g.close()
    await closed
    expect(g.logs.find((l) => l.event === 'websockets_closed')?.count).toBe(1)
  })

  it('refuses a websocket upgrade from a client without a certificate', async () => {
    const before = sim.state.connections().length
    const ws = new WebSocket(`wss://localhost:${gw.port}${CONNECT}`, { ca: pki.root.certPem, headers: bearer() })
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'))
      ws.once('error', () => resolve('error'))
      ws.once('close', () => resolve('closed'))
    })
    expect(outcome).not.toBe('open')
    expect(sim.state.connections().length).toBe(before)
  })
})

describe('backend failures', () => {
  async function failsWith (g: GatewayHandle, status: number, code: string, method = 'GET'): Promise<void> {
    const res = await send(agent, g.url + NEXT_V1, { method, headers: bearer() })
    expect(res.status).toBe(status)
    const body = JSON.parse(res.text) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['error', 'request_id'])
    expect(g.logs.some((l) => l.code === code && l.reqId === body.request_id)).toBe(true)
  }

  it('answers 502 MTLS_ERR_UPSTREAM_CONNECT when Mender is unreachable', async () => {
    const g = await startGateway({ pki, backendUrl: 'http://127.0.0.1:1' })
    try { await failsWith(g, 502, 'MTLS_ERR_UPSTREAM_CONNECT') } finally { await g.close() }
  })

  it('answers 504 MTLS_ERR_UPSTREAM_TIMEOUT when Mender is too slow', async () => {
    // a simulator of its own: the slow request is still being answered after the test, and must not consume the
    // faults later tests set on the shared one
    const slow = await startSimulator()
    const g = await startGateway({ pki, backendUrl: slow.url, overrides: { upstream_headers_timeout: 200 } })
    slow.faults.latency('device', 1000)
    try { await failsWith(g, 504, 'MTLS_ERR_UPSTREAM_TIMEOUT') } finally { await g.close(); await slow.close() }
  })

  it('answers 502 when Mender drops the connection', async () => {
    sim.faults.dropNext('device', 1)
    // POST: an idempotent GET may be retried by the HTTP client on a fresh connection and succeed
    await failsWith(gw, 502, 'MTLS_ERR_UPSTREAM_CONNECT', 'POST')
  })

  it('passes a Mender 5xx answer through unchanged', async () => {
    sim.faults.failNext('device', 500, 1)
    const res = await send(agent, gw.url + NEXT_V1, { headers: bearer() })
    expect(res.status).toBe(500)
  })
})

describe('upstream TLS', () => {
  let tlsSim: Simulator
  beforeAll(async () => {
    tlsSim = await startSimulator({ tls: { cert: pki.server.chainPem, key: pki.server.keyPem } })
  })
  afterAll(async () => { await tlsSim?.close() })
  const httpsUrl = (): string => tlsSim.url.replace('127.0.0.1', 'localhost')

  it('verifies the Mender certificate against the configured CA', async () => {
    const g = await startGateway({ pki, backendUrl: httpsUrl() })
    try {
      expect((await send(agent, g.url + NEXT_V1, { headers: bearer() })).status).toBe(401)
      expect(tlsSim.requests.filter((r) => r.url === NEXT_V1).length).toBe(1)
    } finally { await g.close() }
  })

  it('refuses a Mender certificate it cannot verify (502 MTLS_ERR_UPSTREAM_TLS)', async () => {
    const g = await startGateway({ pki, backendUrl: httpsUrl(), overrides: { mender_cert: pki.foreign.certPath } })
    try {
      const res = await send(agent, g.url + NEXT_V1, { headers: bearer() })
      expect(res.status).toBe(502)
      expect(g.withCode('MTLS_ERR_UPSTREAM_TLS').length).toBe(1)
    } finally { await g.close() }
  })

  it('skips upstream verification only when insecure_skip_verify is set', async () => {
    const g = await startGateway({
      pki, backendUrl: httpsUrl(), overrides: { mender_cert: pki.foreign.certPath, insecure_skip_verify: true }
    })
    try {
      expect((await send(agent, g.url + NEXT_V1, { headers: bearer() })).status).toBe(401)
    } finally { await g.close() }
  })
})
