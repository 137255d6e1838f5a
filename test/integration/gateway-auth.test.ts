// The auth-request interceptor end to end: device → gateway (mTLS) → simulator. Success paths preauthorize and
// forward the original bytes; every refusal forwards nothing and preauthorizes nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createPublicKey } from 'node:crypto'
import { request, type Agent } from 'undici'
import type { TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest, deviceAgent, eventuallyAsync, postAuth, send, signBody } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { http, login } from '../support/sim-helpers.js'

let pki: TestPki
let sim: Simulator
let backend: Backend
let gw: GatewayHandle
let agents: Record<'rsa' | 'ec' | 'ed25519', Agent>
let mac = 0

const nextIdentity = (): Record<string, string> => ({ mac: `02:00:00:00:01:${(++mac).toString(16).padStart(2, '0')}` })
const authForwards = (): number => sim.requests.filter((r) => r.url.startsWith(AUTH_URL_PATH)).length

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  gw = await startGateway({ pki, backendUrl: sim.url })
  agents = {
    rsa: deviceAgent(pki, pki.devices.rsa),
    ec: deviceAgent(pki, pki.devices.ec),
    ed25519: deviceAgent(pki, pki.devices.ed25519)
  }
})

afterAll(async () => {
  await Promise.all(Object.values(agents ?? {}).map(async (a) => await a.close()))
  await gw?.close()
  await backend?.close()
})

beforeEach(() => { sim.reset() })

describe('auth request: success', () => {
  for (const kind of ['rsa', 'ec', 'ed25519'] as const) {
    it(`accepts a ${kind} device on its first auth request with a bare JWT`, async () => {
      const identity = nextIdentity()
      const res = await postAuth(agents[kind], gw.url, authRequest(pki.devices[kind].keyPem, identity))
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toBe('application/jwt')
      expect(res.text).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(sim.state.deviceByIdentity(identity)?.status).toBe('accepted')
    })
  }

  it('forwards the original body bytes unchanged', async () => {
    const key = pki.devices.ec.keyPem
    const pubkey = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString()
    const body = Buffer.from(`{ "pubkey" : ${JSON.stringify(pubkey)},\n  "id_data":"{\\"mac\\":\\"02:aa\\"}" , "tier":"standard" }`)
    const res = await postAuth(agents.ec, gw.url, { body, headers: { 'content-type': 'application/json', 'x-men-signature': signBody(body, key) } })
    expect(res.status).toBe(200)
    const forwarded = sim.requests.find((r) => r.url === AUTH_URL_PATH)
    expect(forwarded?.bodyBytes.equals(body)).toBe(true)
  })

  it('echoes the device\'s X-MEN-RequestID and sends it upstream', async () => {
    const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
    const res = await postAuth(agents.ec, gw.url, { body: req.body, headers: { ...req.headers, 'x-men-requestid': 'req-abc-123' } })
    expect(res.headers['x-men-requestid']).toBe('req-abc-123')
    expect(sim.requests.find((r) => r.url === AUTH_URL_PATH)?.headers['x-men-requestid']).toBe('req-abc-123')
  })

  it('skips the management calls for a repeat auth request (cached)', async () => {
    const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
    await postAuth(agents.ec, gw.url, req)
    const preauths = sim.counts.preauth
    const res = await postAuth(agents.ec, gw.url, req)
    expect(res.status).toBe(200)
    expect(sim.counts.preauth).toBe(preauths)
  })

  it('preauthorizes once for concurrent first requests of one device', async () => {
    const req = authRequest(pki.devices.rsa.keyPem, nextIdentity())
    const answers = await Promise.all(Array.from({ length: 8 }, async () => await postAuth(agents.rsa, gw.url, req)))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(sim.counts.preauth).toBe(1)
  })

  it('admits a device first seen as pending by forcing the preauthorization', async () => {
    const identity = nextIdentity()
    const req = authRequest(pki.devices.ed25519.keyPem, identity)
    const direct = await request(sim.url + AUTH_URL_PATH, { method: 'POST', body: req.body, headers: req.headers })
    await direct.body.dump()
    expect(direct.statusCode).toBe(401)
    expect(sim.state.deviceByIdentity(identity)?.status).toBe('pending')
    const res = await postAuth(agents.ed25519, gw.url, req)
    expect(res.status).toBe(200)
    expect(sim.state.deviceByIdentity(identity)?.status).toBe('accepted')
    expect(gw.logs.some((l) => l.event === 'auth_decision' && l.decision === 'forced')).toBe(true)
  })
})

describe('auth request: refusals forward nothing and preauthorize nothing', () => {
  async function refused (req: { body: Buffer, headers: Record<string, string> }, status: number, code: string, method = 'POST', agent = agents.ec): Promise<void> {
    const res = await send(agent, gw.url + AUTH_URL_PATH, { method, body: req.body, headers: req.headers })
    expect(res.status).toBe(status)
    const body = JSON.parse(res.text) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['error', 'request_id'])
    expect(res.headers['x-men-requestid']).toBe(body.request_id)
    expect(gw.logs.some((l) => l.code === code && l.reqId === body.request_id)).toBe(true)
    expect(authForwards()).toBe(0)
    expect(sim.counts.preauth).toBe(0)
  }

  it('refuses an auth request whose key is not the certificate key (401 MTLS_ERR_AUTH_KEY_MISMATCH)', async () => {
    await refused(authRequest(pki.devices.rsa.keyPem, nextIdentity()), 401, 'MTLS_ERR_AUTH_KEY_MISMATCH')
  })

  it('refuses a bad signature (401 MTLS_ERR_AUTH_BAD_SIGNATURE)', async () => {
    const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
    req.headers['x-men-signature'] = signBody(Buffer.from('other bytes'), pki.devices.ec.keyPem)
    await refused(req, 401, 'MTLS_ERR_AUTH_BAD_SIGNATURE')
  })

  it('refuses a missing signature header (400 MTLS_ERR_AUTH_MISSING_SIGNATURE)', async () => {
    const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
    delete req.headers['x-men-signature']
    await refused(req, 400, 'MTLS_ERR_AUTH_MISSING_SIGNATURE')
  })

  it('refuses malformed JSON (400 MTLS_ERR_AUTH_MALFORMED)', async () => {
    await refused({ body: Buffer.from('{"id_data": '), headers: { 'content-type': 'application/json', 'x-men-signature': 'AAAA' } }, 400, 'MTLS_ERR_AUTH_MALFORMED')
  })

  it('refuses id_data that is not a string holding an object (400 MTLS_ERR_AUTH_BAD_ID_DATA)', async () => {
    const req = authRequest(pki.devices.ec.keyPem, {})
    const doc = JSON.parse(req.body.toString()) as Record<string, unknown>
    const body = Buffer.from(JSON.stringify({ ...doc, id_data: { mac: '02:00:00:00:00:09' } }))
    await refused({ body, headers: { ...req.headers, 'x-men-signature': signBody(body, pki.devices.ec.keyPem) } }, 400, 'MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it('refuses a pubkey that is not a public key (400 MTLS_ERR_AUTH_BAD_PUBKEY)', async () => {
    const body = Buffer.from(JSON.stringify({ id_data: '{"mac":"x"}', pubkey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }))
    await refused({ body, headers: { 'content-type': 'application/json', 'x-men-signature': 'AAAA' } }, 400, 'MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('refuses a non-JSON content type (415 MTLS_ERR_UNSUPPORTED_MEDIA_TYPE)', async () => {
    const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
    await refused({ body: req.body, headers: { ...req.headers, 'content-type': 'text/plain' } }, 415, 'MTLS_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('refuses a body above the limit (413 MTLS_ERR_BODY_TOO_LARGE)', async () => {
    const body = Buffer.alloc((gw.config.gateway?.body_limit ?? 0) + 1, 0x20)
    await refused({ body, headers: { 'content-type': 'application/json', 'x-men-signature': 'AAAA' } }, 413, 'MTLS_ERR_BODY_TOO_LARGE')
  })

  for (const method of ['PUT', 'GET', 'PATCH', 'DELETE']) {
    it(`refuses ${method} on the auth path (405 MTLS_ERR_METHOD_NOT_ALLOWED)`, async () => {
      const req = authRequest(pki.devices.ec.keyPem, nextIdentity())
      await refused(method === 'GET' || method === 'DELETE' ? { body: undefined as never, headers: {} } : req, 405, 'MTLS_ERR_METHOD_NOT_ALLOWED', method)
    })
  }

  // Each alias carries a key that does not match the certificate: whether the router sends it to the interceptor
  // (which refuses the mismatch) or the proxy's alias guard refuses it, it must never reach Mender unchecked.
  for (const alias of ['/api/devices/v1/authentication/auth_requests/', '/api/devices/v1/authentication/auth%5Frequests', '/api/devices//v1/authentication/auth_requests', '/api/devices/v1/authentication/AUTH_REQUESTS', '/api/devices/v1/authentication/auth_requests%2F']) {
    it(`never forwards the auth path spelled ${alias} unchecked`, async () => {
      const req = authRequest(pki.devices.rsa.keyPem, nextIdentity())
      const res = await send(agents.ec, gw.url + alias, { method: 'POST', body: req.body, headers: req.headers })
      expect([401, 404]).toContain(res.status)
      expect(sim.requests.length).toBe(0)
      expect(sim.counts.preauth).toBe(0)
    })
  }

  it('refuses an auth path alias outside the interceptor with 404 MTLS_ERR_AUTH_PATH_ALIAS', async () => {
    const res = await send(agents.ec, gw.url + '/api/devices/v1/authentication/AUTH_REQUESTS', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(404)
    expect(gw.logs.some((l) => l.code === 'MTLS_ERR_AUTH_PATH_ALIAS' && l.reqId === (JSON.parse(res.text) as { request_id: string }).request_id)).toBe(true)
  })
})

describe('auth request: Mender failures', () => {
  it('answers 502 and forwards nothing when the management login is refused', async () => {
    const bad = await startGateway({ pki, backendUrl: sim.url, overrides: { mender_pass: 'wrong' } })
    try {
      const res = await postAuth(agents.ec, bad.url, authRequest(pki.devices.ec.keyPem, nextIdentity()))
      expect(res.status).toBe(502)
      expect(bad.withCode('MTLS_ERR_MGMT_LOGIN_FAILED').length).toBeGreaterThan(0)
      expect(authForwards()).toBe(0)
    } finally {
      await bad.close()
    }
  })

  it('answers 503 and forwards nothing when preauthorization fails with a 5xx', async () => {
    sim.faults.failNext('preauth', 500, 5)
    const res = await postAuth(agents.ec, gw.url, authRequest(pki.devices.ec.keyPem, nextIdentity()))
    expect(res.status).toBe(503)
    expect(JSON.parse(res.text)).toHaveProperty('request_id')
    expect(authForwards()).toBe(0)
  })

  it('logs in again and retries once when Mender refuses an expired management token', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url })
    try {
      await eventuallyAsync(async () => await g.metric('mtls_management_up', { tenant: 'default' }) === 1)
      sim.faults.failNext('preauth', 401, 1) // Mender refuses the cached token once
      const res = await postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, nextIdentity()))
      expect(res.status).toBe(200)
      expect(await g.metric('mtls_management_logins_total', { result: 'refresh' })).toBe(1)
    } finally {
      await g.close()
    }
  })

  it('keeps a device at 401 when force is disabled and its identity already exists', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url, overrides: { preauth_force: false } })
    try {
      const identity = nextIdentity()
      await postAuth(agents.rsa, g.url, authRequest(pki.devices.rsa.keyPem, identity))
      const rotated = await postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, identity))
      expect(rotated.status).toBe(401)
      expect(g.logs.some((l) => l.event === 'auth_decision' && l.decision === 'conflict')).toBe(true)
    } finally {
      await g.close()
    }
  })

  it('takes no HTML login page for a token: 502 MTLS_ERR_MGMT_LOGIN_FAILED, nothing forwarded, then recovers', async () => {
    // every login answered 200 with a portal page (a misrouted proxy in front of Mender), until it is fixed
    sim.faults.htmlNext('login', 100)
    const g = await startGateway({ pki, backendUrl: sim.url })
    try {
      const identity = nextIdentity()
      const refused = await postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, identity))
      expect(refused.status).toBe(502)
      expect(Object.keys(JSON.parse(refused.text) as object).sort()).toEqual(['error', 'request_id'])
      expect(refused.text).not.toContain('Sign in')
      expect(g.withCode('MTLS_ERR_MGMT_LOGIN_FAILED').length).toBeGreaterThanOrEqual(1)
      expect(authForwards()).toBe(0)
      expect(sim.state.deviceByIdentity(identity)).toBeUndefined()
      sim.faults.clear()
      const accepted = await postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, identity))
      expect(accepted.status).toBe(200)
    } finally {
      sim.faults.clear()
      await g.close()
    }
  })

  it('preauthorizes again after Mender answers 401 to a cached pair (the device was deleted by an admin)', async () => {
    const identity = nextIdentity()
    expect((await postAuth(agents.ec, gw.url, authRequest(pki.devices.ec.keyPem, identity))).status).toBe(200)
    const id = sim.state.deviceByIdentity(identity)?.id ?? ''
    const admin = await login(sim.url)
    expect((await http(sim.url, `/api/management/v2/devauth/devices/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status).toBe(204)
    // the cached preauthorization is stale: Mender answers 401 once, and the gateway forgets the pair
    expect((await postAuth(agents.ec, gw.url, authRequest(pki.devices.ec.keyPem, identity))).status).toBe(401)
    const again = await postAuth(agents.ec, gw.url, authRequest(pki.devices.ec.keyPem, identity))
    expect(again.status).toBe(200)
    expect(sim.state.deviceByIdentity(identity)?.status).toBe('accepted')
  })

  it('backs off after Mender answers 429 to a preauthorization: devices get 503 + Retry-After, Mender no calls', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url })
    try {
      sim.faults.failNext('preauth', 429, 1)
      const first = await postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, nextIdentity()))
      expect([first.status, first.headers['retry-after']]).toEqual([503, '3'])
      const calls = sim.counts.preauth
      const second = await postAuth(agents.rsa, g.url, authRequest(pki.devices.rsa.keyPem, nextIdentity()))
      expect(second.status).toBe(503)
      expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expect(g.withCode('MTLS_ERR_MGMT_THROTTLED').length).toBeGreaterThanOrEqual(2)
      expect(sim.counts.preauth).toBe(calls)
      expect(authForwards()).toBe(0)
    } finally {
      await g.close()
    }
  })

  it('answers 503 MTLS_ERR_MGMT_BUSY + Retry-After when every management slot is taken and the queue is full', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url, overrides: { mgmt_concurrency: 1, mgmt_queue_size: 0 } })
    try {
      sim.faults.latency('preauth', 800)
      const slow = postAuth(agents.ec, g.url, authRequest(pki.devices.ec.keyPem, nextIdentity()))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const refused = await postAuth(agents.rsa, g.url, authRequest(pki.devices.rsa.keyPem, nextIdentity()))
      expect([refused.status, refused.headers['retry-after']]).toEqual([503, '10'])
      expect(JSON.parse(refused.text)).toHaveProperty('request_id')
      expect((await slow).status).toBe(200)
    } finally {
      await g.close()
    }
  })

  it('admits a key that differs from the certificate key in relaxed mode', async () => {
    const g = await startGateway({ pki, backendUrl: sim.url, overrides: { key_match: 'relaxed' } })
    try {
      const res = await postAuth(agents.ec, g.url, authRequest(pki.devices.rsa.keyPem, nextIdentity()))
      expect(res.status).toBe(200)
      expect(g.withCode('MTLS_WARN_KEY_MISMATCH_ALLOWED').length).toBe(1)
    } finally {
      await g.close()
    }
  })
})
