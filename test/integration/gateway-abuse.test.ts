// Hostile clients: identity spoofing (binding), forged identity headers, auth floods (rate limit), connection
// floods from one address, slowloris headers, stalled handshakes, and an overloaded event loop. Each case asserts the
// documented answer, the reason code in the log, and that nothing was forwarded or preauthorized.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connect as tcpConnect } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect, type TLSSocket } from 'node:tls'
import type { Agent } from 'undici'
import type { TestCert, TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest, deviceAgent, eventually, eventuallyAsync, postAuth, send } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const MAC = '02:00:00:00:09:01'
let pki: TestPki
let sim: Simulator
let backend: Backend
let bound: TestCert
let agent: Agent
const forwardedAuth = (): number => sim.requests.filter((r) => r.url === AUTH_URL_PATH).length

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  bound = await pki.device(MAC, 'ec', { uris: ['urn:dev:serial:SN-4711'], dns: ['sn-4711'] })
  agent = deviceAgent(pki, bound)
})

afterAll(async () => {
  await agent?.close()
  await backend?.close()
})

beforeEach(() => { sim.reset() })

async function withGateway (
  overrides: Record<string, unknown>, fn: (gw: GatewayHandle) => Promise<void>
): Promise<void> {
  const gw = await startGateway({ pki, backendUrl: sim.url, overrides })
  try { await fn(gw) } finally { await gw.close() }
}

describe('identity binding', () => {
  it('admits an identity the certificate carries (CN)', async () => {
    await withGateway({ identity_binding: 'enforce' }, async (gw) => {
      expect((await postAuth(agent, gw.url, authRequest(bound.keyPem, { mac: MAC }))).status).toBe(200)
    })
  })

  it('admits an identity the certificate carries as a SAN value', async () => {
    await withGateway({ identity_binding: 'enforce' }, async (gw) => {
      expect((await postAuth(agent, gw.url, authRequest(bound.keyPem, { serial: 'SN-4711' }))).status).toBe(200)
    })
  })

  it('refuses a spoofed identity with 403 MTLS_ERR_IDENTITY_MISMATCH, nothing preauthorized or forwarded', async () => {
    await withGateway({ identity_binding: 'enforce' }, async (gw) => {
      const res = await postAuth(agent, gw.url, authRequest(bound.keyPem, { mac: '02:00:00:00:09:99' }))
      expect(res.status).toBe(403)
      expect(gw.withCode('MTLS_ERR_IDENTITY_MISMATCH').length).toBeGreaterThan(0)
      expect(sim.counts.preauth).toBe(0)
      expect(forwardedAuth()).toBe(0)
    })
  })

  it('refuses an identity without any bound attribute', async () => {
    await withGateway({ identity_binding: 'enforce' }, async (gw) => {
      expect((await postAuth(agent, gw.url, authRequest(bound.keyPem, { hostname: MAC }))).status).toBe(403)
    })
  })

  it('only logs a mismatch in warn mode', async () => {
    await withGateway({ identity_binding: 'warn' }, async (gw) => {
      expect((await postAuth(agent, gw.url, authRequest(bound.keyPem, { mac: '02:00:00:00:09:98' }))).status).toBe(200)
      expect(gw.withCode('MTLS_WARN_IDENTITY_MISMATCH').length).toBe(1)
    })
  })
})

describe('identity forwarding', () => {
  const forged = { 'x-forwarded-client-cert': 'Hash=forged;Subject="CN=admin"' }

  it('sends the verified identity upstream and drops a forged one', async () => {
    await withGateway({ forward_identity: true }, async (gw) => {
      await send(agent, gw.url + '/api/devices/v1/deployments/device/deployments/next', { headers: forged })
      const xfcc = String(sim.requests.at(-1)?.headers['x-forwarded-client-cert'])
      expect(xfcc).toContain(`Hash=${bound.fingerprint256.replaceAll(':', '').toLowerCase()}`)
      expect(xfcc).not.toContain('forged')
    })
  })

  it('strips an inbound identity header when forwarding is off, on the auth request too', async () => {
    await withGateway({}, async (gw) => {
      const req = authRequest(bound.keyPem, { mac: MAC })
      await postAuth(agent, gw.url, { body: req.body, headers: { ...req.headers, ...forged } })
      await send(agent, gw.url + '/api/devices/v1/deployments/device/deployments/next', { headers: forged })
      expect(sim.requests.filter((r) => r.url.startsWith('/api/devices')).every((r) => r.headers['x-forwarded-client-cert'] === undefined)).toBe(true)
    })
  })
})

describe('rate limit', () => {
  it('answers 429 MTLS_ERR_RATE_LIMITED with Retry-After past the per-certificate limit and forwards nothing more', async () => {
    await withGateway({ auth_rate_limit: 2 }, async (gw) => {
      const req = authRequest(bound.keyPem, { mac: MAC })
      await postAuth(agent, gw.url, req)
      await postAuth(agent, gw.url, req)
      const third = await postAuth(agent, gw.url, req)
      expect(third.status).toBe(429)
      expect(third.headers['retry-after']).toBeDefined()
      expect(Object.keys(JSON.parse(third.text) as object).sort()).toEqual(['error', 'request_id'])
      expect(gw.withCode('MTLS_ERR_RATE_LIMITED').length).toBe(1)
      expect(forwardedAuth()).toBe(2)
    })
  })

  it('counts each certificate separately', async () => {
    await withGateway({ auth_rate_limit: 1 }, async (gw) => {
      const other = deviceAgent(pki, pki.devices.ec)
      try {
        expect((await postAuth(agent, gw.url, authRequest(bound.keyPem, { mac: MAC }))).status).toBe(200)
        expect((await postAuth(other, gw.url, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:09:02' }))).status).toBe(200)
      } finally { await other.close() }
    })
  })
})

describe('connection and timing limits', () => {
  const open = async (gw: GatewayHandle): Promise<TLSSocket> => await new Promise((resolve, reject) => {
    const s = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: bound.chainPem, key: bound.keyPem })
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
  })
  /** Whether the server closes the socket within `ms` (the socket is read so its end is seen). */
  const closed = async (s: Duplex, ms: number): Promise<boolean> => {
    s.resume()
    return await Promise.race([
      new Promise<boolean>((resolve) => s.once('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))
    ])
  }

  it('refuses connections beyond the per-address cap (MTLS_ERR_TLS_CONN_LIMIT)', async () => {
    await withGateway({ max_connections_per_ip: 2 }, async (gw) => {
      const a = await open(gw)
      const b = await open(gw)
      try {
        await expect(open(gw)).rejects.toBeDefined()
        expect(await eventually(() => gw.withCode('MTLS_ERR_TLS_CONN_LIMIT').length === 1)).toBe(true)
        a.destroy()
        await eventuallyAsync(async () => await gw.metric('mtls_open_connections') === 1)
        ;(await open(gw)).destroy()
      } finally { a.destroy(); b.destroy() }
    })
  })

  it('closes a connection whose headers never finish (slowloris)', async () => {
    await withGateway({ headers_timeout: 500 }, async (gw) => {
      const s = await open(gw)
      s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ')
      expect(await closed(s, 4000)).toBe(true)
    })
  })

  it('closes a connection that never starts its TLS handshake (MTLS_ERR_TLS_HANDSHAKE)', async () => {
    await withGateway({ handshake_timeout: 300 }, async (gw) => {
      const s = tcpConnect({ port: gw.port, host: '127.0.0.1' })
      expect(await closed(s, 3000)).toBe(true)
      expect(await eventually(() => gw.withCode('MTLS_ERR_TLS_HANDSHAKE').length === 1)).toBe(true)
    })
  })

  it('sheds load with 503 MTLS_ERR_OVERLOADED and Retry-After while the event loop lags', async () => {
    await withGateway({ max_event_loop_delay: 20 }, async (gw) => {
      await send(agent, gw.url + '/status') // warm connection: the next requests need no handshake
      let shed: Awaited<ReturnType<typeof send>> | undefined
      // the lag is sampled every 100 ms: ask right after a stall and shortly after, a few times
      for (let attempt = 0; attempt < 5 && shed === undefined; attempt++) {
        const busyUntil = Date.now() + 300
        while (Date.now() < busyUntil) { /* block the event loop like a CPU-starved gateway */ }
        for (const wait of [0, 60, 130]) {
          await new Promise((resolve) => setTimeout(resolve, wait))
          const res = await send(agent, gw.url + '/status')
          if (res.status === 503) { shed = res; break }
        }
      }
      expect(shed?.headers['retry-after']).toBe('10')
      expect(gw.withCode('MTLS_ERR_OVERLOADED').length).toBeGreaterThan(0)
      await new Promise((resolve) => setTimeout(resolve, 400))
      expect((await send(agent, gw.url + '/status')).status).toBe(200)
    })
  })
})
