// GET /ping on the mTLS port answers like the original ambassador (200 {"message":"pong"}) for an admitted device,
// is never forwarded to Mender, is access-logged and counted, and follows the request-target policy of /status, over
// HTTP/1.1 and HTTP/2 alike.
import { connect } from 'node:tls'
import { describe, expect } from 'vitest'
import { gatewayTest as it } from '../support/fixtures.js'
import { eventually, send } from '../support/device.js'
import { jsonBody, rawExchange } from '../support/raw-tls.js'
import type { TestCert, TestPki } from '../support/pki.js'
import { exchange, type Proto } from '../support/http2-device.js'

const request = (method: string, target: string): string =>
  `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`

/** One GET /ping on a fresh TLS connection presenting `cert` (or none): the raw answer or the error that ended it. */
async function pingWith (port: number, pki: TestPki, cert?: TestCert): Promise<{ response: string, error?: string }> {
  return await new Promise((resolve) => {
    let response = ''
    const socket = connect({
      port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, ...(cert === undefined ? {} : { cert: cert.chainPem, key: cert.keyPem })
    })
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
    socket.on('secureConnect', () => socket.write(request('GET', '/ping')))
    socket.on('data', (d: Buffer) => { response += d.toString('latin1') })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ response, error: err.code ?? err.message }))
    socket.on('close', () => resolve({ response }))
  })
}

describe('GET /ping on the mTLS port', () => {
  it('answers an admitted device 200 {"message":"pong"} as JSON', async ({ gateway: gw, device }) => {
    const answer = await send(device, gw.url + '/ping')
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toMatch(/^application\/json/)
    expect(answer.text).toBe('{"message":"pong"}')
  })

  it('is not forwarded to Mender', async ({ gateway: gw, backend: { sim }, device }) => {
    const seen = sim.requests.length
    await send(device, gw.url + '/ping')
    await send(device, gw.url + '/ping?probe=1')
    expect(sim.requests.slice(seen).map((r) => r.url)).toEqual([])
  })

  it('is access-logged with its status', async ({ gateway: gw, device }) => {
    await send(device, gw.url + '/ping?logged=1')
    expect(await eventually(() => gw.logs.some((r) => r.event === 'access' && r.url === '/ping?logged=1' && r.status === 200))).toBe(true)
  })

  it('is counted in mtls_requests_total under the status route group', async ({ gateway: gw, device }) => {
    const labels = { route: 'status', method: 'GET', status: '200' }
    const before = await gw.metric('mtls_requests_total', labels) ?? 0
    await send(device, gw.url + '/ping')
    expect(await gw.metric('mtls_requests_total', labels)).toBe(before + 1)
  })

  it('gets no answer without a client certificate', async ({ gateway: gw, backend: { pki } }) => {
    const before = await gw.metric('mtls_handshake_failures_total', { reason: 'MTLS_ERR_TLS_NO_CERT' }) ?? 0
    const answer = await pingWith(gw.port, pki)
    expect(answer.response).not.toContain('pong')
    expect(await gw.metric('mtls_handshake_failures_total', { reason: 'MTLS_ERR_TLS_NO_CERT' })).toBe(before + 1)
  })

  it('gets no answer with a certificate from a foreign CA', async ({ gateway: gw, backend: { pki } }) => {
    const answer = await pingWith(gw.port, pki, pki.devices.foreign)
    expect(answer.response).not.toContain('pong')
  })

  it('answers pong to a device certificate over a plain TLS connection (control for the two above)', async ({ gateway: gw, backend: { pki } }) => {
    const answer = await pingWith(gw.port, pki, pki.devices.ec)
    expect(answer.response).toMatch(/^HTTP\/1\.1 200 /)
    expect(jsonBody(answer.response)).toEqual({ message: 'pong' })
  })

  it('answers HEAD with 200 and no body', async ({ gateway: gw, backend: { pki } }) => {
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, request('HEAD', '/ping'))
    expect(answer.status).toBe(200)
    expect(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)).toBe('')
  })

  it.for(['POST', 'PUT', 'DELETE', 'PATCH'])('refuses %s with a Mender-shaped 404, forwarding nothing', async (method, { gateway: gw, backend: { pki, sim } }) => {
    const seen = sim.requests.length
    const answer = await rawExchange(gw.port, pki, pki.devices.ec, request(method, '/ping'))
    expect(answer.status).toBe(404)
    expect(jsonBody(answer.text)).toMatchObject({ error: expect.any(String), request_id: expect.any(String) })
    expect(sim.requests.slice(seen)).toEqual([])
  })

  it('answers /ping?x like /ping and refuses /ping/ with 404', async ({ gateway: gw, backend: { pki } }) => {
    expect((await rawExchange(gw.port, pki, pki.devices.ec, request('GET', '/ping?x'))).status).toBe(200)
    expect((await rawExchange(gw.port, pki, pki.devices.ec, request('GET', '/ping/'))).status).toBe(404)
  })

  // every spelling /status gets, /ping gets: the target policy is one for all routes
  const SPELLINGS = ['', '/', '?x', '?a=1&b', '/.', '/..', '//', '%2F', ';x', '.', '%70', '/x', '#f']
  it.for(SPELLINGS)('answers the spelling /ping%s with the status /status gets with it', async (suffix, { gateway: gw, backend: { pki } }) => {
    const ping = await rawExchange(gw.port, pki, pki.devices.ec, request('GET', '/ping' + suffix))
    const status = await rawExchange(gw.port, pki, pki.devices.ec, request('GET', '/status' + suffix))
    expect(ping.status).toBeGreaterThan(0)
    expect(ping.status).toBe(status.status)
  })

  it('does not answer other spellings of the name', async ({ gateway: gw, backend: { pki } }) => {
    for (const target of ['/PING', '/Ping', '/api/devices/ping', '/pin']) {
      const answer = await rawExchange(gw.port, pki, pki.devices.ec, request('GET', target))
      expect(answer.text, target).not.toContain('pong')
    }
  })

  describe.for(['h1', 'h2'] as Proto[])('over %s', (proto) => {
    it('answers GET with pong, HEAD with an empty 200, POST and /ping/ with 404', async ({ gateway: gw, backend: { pki } }) => {
      const device = pki.devices.ec
      const get = await exchange(proto, gw.port, pki, { path: '/ping', device })
      expect([get.alpn || 'http/1.1', get.status, get.body]).toEqual([proto === 'h2' ? 'h2' : 'http/1.1', 200, '{"message":"pong"}'])
      const head = await exchange(proto, gw.port, pki, { method: 'HEAD', path: '/ping', device })
      expect([head.status, head.body]).toEqual([200, ''])
      expect((await exchange(proto, gw.port, pki, { method: 'POST', path: '/ping', body: 'x', device })).status).toBe(404)
      expect((await exchange(proto, gw.port, pki, { path: '/ping/', device })).status).toBe(404)
    })

    it('gets nothing without a client certificate', async ({ gateway: gw, backend: { pki } }) => {
      const answer = await exchange(proto, gw.port, pki, { path: '/ping' })
      expect(answer.status).toBe(0)
    })
  })
})
