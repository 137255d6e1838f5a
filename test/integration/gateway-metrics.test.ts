// Metrics on the status listener reflect real traffic: requests by route and status, refused handshakes by reason,
// auth decisions, management logins, upstream errors, open connections and websockets, certificate expiry.
import { describe, expect } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { request } from 'undici'
import WebSocket from 'ws'
import type { GatewayHandle } from '../support/gateway.js'
import { gatewayTest as it } from '../support/fixtures.js'
import { authRequest, eventuallyAsync, postAuth, send, tlsProbe } from '../support/device.js'

async function scrape (gw: GatewayHandle): Promise<string> {
  const res = await request(gw.statusUrl + '/metrics')
  expect(res.headers['content-type']).toMatch(/^text\/plain/)
  return await res.body.text()
}

/** Value of one sample line, e.g. sample(text, 'mtls_requests_total', { route: 'status' }). */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m?.[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

describe('metrics', () => {
  it('counts requests by route group, method and status', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    await send(agent, gw.url + '/status')
    await send(agent, gw.url + '/nope')
    const text = await scrape(gw)
    expect(sample(text, 'mtls_requests_total', { route: 'status', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'mtls_requests_total', { route: 'other', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'mtls_request_duration_seconds_count', { route: 'status' })).toBeGreaterThanOrEqual(1)
  })

  it('counts refused handshakes by reason code', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    await tlsProbe(gw.port, {
      ca: pki.root.certPem, cert: pki.devices.foreign.chainPem, key: pki.devices.foreign.keyPem
    })
    await tlsProbe(gw.port, { ca: pki.root.certPem })
    const text = await scrape(gw)
    expect(sample(text, 'mtls_handshake_failures_total', { reason: 'MTLS_ERR_TLS_UNKNOWN_CA' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'mtls_handshake_failures_total', { reason: 'MTLS_ERR_TLS_NO_CERT' })).toBeGreaterThanOrEqual(1)
  })

  it('counts auth decisions, refusals with their reason', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    const req = authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:03:01' })
    await postAuth(agent, gw.url, req)
    await postAuth(agent, gw.url, req)
    await postAuth(agent, gw.url, authRequest(pki.devices.rsa.keyPem, { mac: '02:00:00:00:03:02' }))
    const text = await scrape(gw)
    expect(sample(text, 'mtls_auth_decisions_total', { decision: 'created' })).toBe(1)
    expect(sample(text, 'mtls_auth_decisions_total', { decision: 'cached' })).toBe(1)
    expect(sample(text, 'mtls_auth_decisions_total', { decision: 'refused', reason: 'MTLS_ERR_AUTH_KEY_MISMATCH' })).toBe(1)
  })

  it('counts management logins', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    await eventuallyAsync(async () => await gw.metric('mtls_management_up', { tenant: 'default' }) === 1)
    expect(sample(await scrape(gw), 'mtls_management_logins_total', { result: 'login' })).toBe(1)
  })

  it('counts upstream errors by code', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    sim.faults.dropNext('device', 1)
    await send(agent, gw.url + '/api/devices/v1/deployments/device/deployments/next')
    expect(sample(await scrape(gw), 'mtls_upstream_errors_total', { kind: 'MTLS_ERR_UPSTREAM_CONNECT' })).toBe(1)
  })

  it('reports open connections and websockets', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    const jwt = (await postAuth(agent, gw.url, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:03:01' }))).text
    const ws = new WebSocket(`wss://localhost:${gw.port}/api/devices/v1/deviceconnect/connect`, {
      ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: { authorization: `Bearer ${jwt}` }
    })
    try {
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const text = await scrape(gw)
      expect(sample(text, 'mtls_open_websockets')).toBe(1)
      expect(sample(text, 'mtls_open_connections')).toBeGreaterThanOrEqual(2)
    } finally {
      ws.close()
    }
  })

  it('reports seconds until the server and CA certificates expire', async ({ gateway: gw, backend: { pki, sim }, device: agent }) => {
    const text = await scrape(gw)
    const expected = (Date.parse(new X509Certificate(pki.server.certPem).validTo) - Date.now()) / 1000
    expect(Math.abs((sample(text, 'mtls_server_certificate_expiry_seconds') ?? 0) - expected)).toBeLessThan(60)
    expect(text.match(/^mtls_ca_certificate_expiry_seconds\{/gm)?.length).toBe(2)
  })
})
