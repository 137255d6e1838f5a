// What goes upstream over real mTLS: hop-by-hop and special headers never break a request (Expect is answered at
// the edge), identity-like headers from devices never reach Mender, Mender's answers are never retried into a storm
// (and its Retry-After reaches the device), and a websocket upgrade waits for Mender no longer than a request does.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net'
import { startGateway, type GatewayHandle, openAdmitted, type AdmittedSetup } from '../support/gateway.js'
import { authRequest, AUTH_URL_PATH } from '../support/device.js'
import { closeServer, listenOnLoopback } from '../support/local-server.js'
import { jsonBody, openRaw, rawExchange, readAll } from '../support/raw-tls.js'
import type { TestPki } from '../support/pki.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const NEXT = '/api/devices/v1/deployments/device/deployments/next'
const INVENTORY = '/api/devices/v1/inventory/device/attributes'

let setup: AdmittedSetup
let pki: TestPki
let sim: Simulator
let gw: GatewayHandle
let jwt: string

beforeAll(async () => {
  setup = await openAdmitted('02:00:00:00:08:01')
  ;({ pki, sim, gw, jwt } = setup)
})

afterAll(async () => { await setup?.close() })

beforeEach(() => { sim.requests.length = 0; sim.faults.clear() })

const request = (method: string, path: string, headers: string, body = ''): string =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\n${headers}` +
  `${body !== '' ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}Connection: close\r\n\r\n${body}`

describe('hop-by-hop and special headers', () => {
  it('answers Expect: 100-continue at the edge and forwards a 1.5 MB upload whole', async () => {
    const body = JSON.stringify([{ name: 'blob', value: 'x'.repeat(1_500_000) }])
    const socket = await openRaw(gw.port, pki, pki.devices.ec)
    try {
      socket.write(`PUT ${INVENTORY} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${jwt}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`)
      const cont = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))))
      expect(cont).toMatch(/^HTTP\/1\.1 100 Continue/)
      socket.write(body)
      const answer = await readAll(socket, 1500)
      expect(answer.status).toBe(200)
    } finally {
      socket.destroy()
    }
    const last = sim.requests.at(-1)
    expect(last?.bodyBytes.length).toBe(body.length)
    expect(last?.headers.expect).toBeUndefined()
  })

  it('forwards an auth request sent with Expect: 100-continue (never a 502 after preauthorizing)', async () => {
    const req = authRequest(pki.devices.rsa.keyPem, { mac: '02:00:00:00:08:02' })
    const head = `POST ${AUTH_URL_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `X-MEN-Signature: ${req.headers['x-men-signature'] ?? ''}\r\nContent-Length: ${req.body.length}\r\n` +
      'Expect: 100-continue\r\nConnection: close\r\n\r\n'
    const answer = await rawExchange(gw.port, pki, pki.devices.rsa, Buffer.concat([Buffer.from(head), req.body]), 1500)
    expect(answer.text).toMatch(/HTTP\/1\.1 200 OK/)
    expect(sim.state.deviceByIdentity({ mac: '02:00:00:00:08:02' })?.status).toBe('accepted')
  })

  it.each([
    ['Keep-Alive', 'Keep-Alive: timeout=5, max=100\r\n'],
    ['Upgrade without Connection: upgrade', 'Upgrade: h2c\r\n'],
    ['TE', 'TE: gzip\r\n'],
    ['Trailer', 'Trailer: X-Checksum\r\n'],
    ['Proxy-Connection', 'Proxy-Connection: keep-alive\r\n'],
    ['a header named in Connection', 'X-Hop: 1\r\nConnection: X-Hop\r\n']
  ])('forwards a request carrying %s without it, and answers what Mender answers', async (_name, header) => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, request('GET', NEXT, header))
    expect(answer.status).toBe(204)
    const seen = sim.requests.at(-1)?.headers ?? {}
    for (const name of ['keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection', 'x-hop']) expect(seen[name], name).toBeUndefined()
  })
})

describe('identity-like headers from devices', () => {
  const forged = [
    'Forwarded: for=10.0.0.1;proto=https', 'X-Real-IP: 10.0.0.1', 'X-Forwarded-Host: mender.internal',
    'X-Forwarded-Port: 443', 'X-Forwarded-Prefix: /admin', 'X-SSL-Client-Verify: SUCCESS',
    'X-SSL-Client-S-DN: CN=admin', 'X-Client-Cert: forged', 'X-Client-Certificate: forged',
    'X-Original-URL: /api/management/v1/useradm/users', 'X-Rewrite-URL: /api/management/v1/useradm/users',
    'x_forwarded_client_cert: Hash=forged', 'x_forwarded_for: 10.0.0.1', 'X-Forwarded-Client-Cert: Hash=forged',
    'True-Client-IP: 10.0.0.1', 'X-Client-IP: 10.0.0.1'
  ]

  it('never forwards any of them on HTTP requests', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, request('GET', NEXT, forged.map((h) => `${h}\r\n`).join('')))
    expect(answer.status).toBe(204)
    const raw = sim.requests.at(-1)?.rawHeaders ?? []
    const names = raw.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase())
    for (const h of forged) {
      const name = (h.split(':')[0] ?? '').toLowerCase()
      if (name === 'x-forwarded-for' || name === 'x-forwarded-proto') continue
      expect(names, name).not.toContain(name)
    }
    expect(sim.requests.at(-1)?.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(JSON.stringify(raw)).not.toMatch(/forged|10\.0\.0\.1|mender\.internal|useradm/)
  })

  it('never forwards any of them on websocket upgrades', async () => {
    const head = 'GET /api/devices/v1/deviceconnect/connect HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n' +
      'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      `Authorization: Bearer ${jwt}\r\n${forged.map((h) => `${h}\r\n`).join('')}\r\n`
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, head)
    expect(answer.status).toBe(101)
    const conn = sim.state.connections().at(-1)
    expect(JSON.stringify(conn?.headers)).not.toMatch(/forged|10\.0\.0\.1|mender\.internal|useradm/)
    expect(conn?.headers.authorization).toBe(`Bearer ${jwt}`)
  })
})

describe('retries', () => {
  let counting: Server
  let hits: IncomingMessage[]
  let g: GatewayHandle

  beforeAll(async () => {
    hits = []
    counting = createServer((req, res) => {
      hits.push(req)
      if (req.url?.startsWith('/api/management/')) { res.writeHead(401).end(); return }
      if (req.url === '/api/devices/v1/drop') { req.socket.destroy(); return }
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' }).end('{"error":"busy","request_id":"x"}')
    })
    g = await startGateway({ pki, backendUrl: await listenOnLoopback(counting) })
  })
  afterAll(async () => { await g?.close(); if (counting !== undefined) await closeServer(counting) })
  beforeEach(() => { hits.length = 0 })

  const deviceHits = (): number => hits.filter((r) => r.url?.startsWith('/api/devices/') === true).length

  it('sends a device GET answered 503 upstream once, and passes Mender\'s Retry-After through', async () => {
    const answer = await rawExchange(g.port, pki, pki.devices.ec, request('GET', NEXT, ''))
    expect(answer.status).toBe(503)
    expect(answer.text).toMatch(/\r\nretry-after: 7\r\n/i)
    expect(deviceHits()).toBe(1)
  })

  it('never retries a request once its bytes reached Mender (connection reset after sending)', async () => {
    for (const method of ['GET', 'PUT']) {
      hits.length = 0
      const answer = await rawExchange(g.port, pki, pki.devices.ec, request(method, '/api/devices/v1/drop', '', method === 'PUT' ? '{}' : ''))
      expect(answer.status, method).toBe(502)
      expect(deviceHits(), method).toBe(1)
    }
  })
})

describe('websocket upgrade timeouts', () => {
  let silent: NetServer
  let g: GatewayHandle
  const sockets = new Set<import('node:net').Socket>()

  beforeAll(async () => {
    // accepts connections and never answers (a Mender that hangs)
    silent = createNetServer((s) => { sockets.add(s); s.on('error', () => {}) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    g = await startGateway({
      pki,
      backendUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      overrides: { upstream_headers_timeout: 500 }
    })
  })
  afterAll(async () => {
    await g?.close()
    for (const s of sockets) s.destroy()
    silent?.close()
  })

  it('answers 504 MTLS_ERR_UPSTREAM_TIMEOUT when Mender does not answer an upgrade in upstream_headers_timeout', async () => {
    const started = Date.now()
    const head = 'GET /api/devices/v1/deviceconnect/connect HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n' +
      'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
    const answer = await rawExchange(g.port, pki, pki.devices.ec, head, 4000)
    expect(answer.status).toBe(504)
    expect(Date.now() - started).toBeLessThan(4000)
    const id = jsonBody(answer.text)?.request_id
    expect(g.logs.some((l) => l.code === 'MTLS_ERR_UPSTREAM_TIMEOUT' && l.reqId === id)).toBe(true)
  })
})
