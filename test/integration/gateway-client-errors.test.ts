// Requests Node's HTTP parser refuses (CL+TE, bad header bytes, oversized headers) get Mender's error shape and a
// coded log line, over real mTLS; and no credential a device sends ever reaches the log, at any level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Agent } from 'undici'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, postAuth, send } from '../support/device.js'
import { jsonBody, rawExchange } from '../support/raw-tls.js'
import type { TestPki } from '../support/pki.js'

let backend: Backend
let pki: TestPki
let gw: GatewayHandle

beforeAll(async () => {
  ;({ pki } = backend = await openBackend())
  gw = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { log_level: 'trace' } })
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
})

const PATH = '/api/devices/v1/deployments/device/deployments/next'

describe('requests the HTTP parser refuses', () => {
  it.each([
    ['Content-Length with Transfer-Encoding', `POST ${PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'MTLS_ERR_BAD_REQUEST'],
    ['a control byte in a header value', `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\u0001b\r\n\r\n`, 400, 'MTLS_ERR_BAD_REQUEST'],
    ['a space in a header name', `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nX Bad: 1\r\n\r\n`, 400, 'MTLS_ERR_BAD_REQUEST'],
    ['headers above the limit', `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'MTLS_ERR_HEADERS_TOO_LARGE'],
    ['a malformed request line', 'GET\r\n\r\n', 400, 'MTLS_ERR_BAD_REQUEST']
  ])('answers %s with a Mender-shaped answer and a coded log line', async (_name, bytes, status, code) => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, bytes)
    expect(answer.status).toBe(status)
    const body = jsonBody(answer.text)
    expect(Object.keys(body ?? {}).sort()).toEqual(['error', 'request_id'])
    expect(answer.text).toMatch(new RegExp(`\r\nX-MEN-RequestID: ${String(body?.request_id)}\r\n`, 'i'))
    expect(gw.logs.some((l) => l.code === code && l.reqId === body?.request_id && typeof l.parserError === 'string')).toBe(true)
  })
})

/** pino writes a Buffer as {type: 'Buffer', data: [bytes]}: read such values as text before searching. */
function isBufferJson (v: unknown): v is { type: 'Buffer', data: number[] } {
  return v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)
}

describe('requests the gateway refuses before routing', () => {
  it.each([
    ['no Host header', `GET ${PATH} HTTP/1.1\r\n\r\n`, 400, 'MTLS_ERR_BAD_REQUEST'],
    ['two Host headers', `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nHost: mender.internal\r\n\r\n`, 400, 'MTLS_ERR_BAD_REQUEST'],
    ['a CONNECT request', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', 405, 'MTLS_ERR_METHOD_NOT_ALLOWED'],
    ['an Expect other than 100-continue', `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nExpect: magic\r\n\r\n`, 417, 'MTLS_ERR_EXPECTATION_FAILED']
  ])('answers %s in Mender\'s shape, forwarding nothing', async (_name, bytes, status, code) => {
    const before = backend.sim.requests.length
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, bytes)
    expect(answer.status).toBe(status)
    const body = jsonBody(answer.text)
    expect(Object.keys(body ?? {}).sort()).toEqual(['error', 'request_id'])
    expect(gw.logs.some((l) => l.code === code && l.reqId === body?.request_id)).toBe(true)
    expect(backend.sim.requests.length).toBe(before)
  })

  it('still serves an HTTP/1.0 request without Host', async () => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, 'GET /status HTTP/1.0\r\n\r\n')
    expect(answer.status).toBe(200)
  })
})

describe('secrets in the log at trace level', () => {
  const SECRET = 'eyJzZWNyZXQtdG9rZW4.c2VjcmV0.dG9rZW4tMTIzNDU2Nzg5'

  it('never logs a device credential, on any path', async () => {
    const agent: Agent = deviceAgent(pki, pki.devices.ec)
    try {
      await postAuth(agent, gw.url, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:09:01' }, { tenant_token: SECRET }))
      await send(agent, gw.url + PATH, { headers: { authorization: `Bearer ${SECRET}`, cookie: `s=${SECRET}` } })
      await send(agent, gw.url + '/api/devices/v1/a;b', { headers: { authorization: `Bearer ${SECRET}` } })
      await send(agent, gw.url + '/nowhere', { headers: { authorization: `Bearer ${SECRET}` } })
    } finally {
      await agent.close()
    }
    // a parser error keeps the raw request bytes in err.rawPacket
    await rawExchange(gw.port, pki, pki.devices.ec, `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${SECRET}\r\nX-Bad: \u0001\r\n\r\n`)
    const ws = new WebSocket(`wss://localhost:${gw.port}/api/devices/v1/deviceconnect/connect`, {
      ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: { authorization: `Bearer ${SECRET}` }
    })
    await new Promise((resolve) => { ws.once('error', resolve); ws.once('close', resolve); ws.once('open', resolve) })
    ws.terminate()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(gw.logs.length).toBeGreaterThan(10)
    const text = JSON.stringify(gw.logs, (_k, v: unknown) => isBufferJson(v) ? Buffer.from(v.data).toString('latin1') : v)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain('c2VjcmV0')
  })
})
