// Fuzzing over the wire: hostile auth request bodies, request targets and headers sent to a real gateway process
// (dist/, the Mender simulator as its backend). Never a 5xx, the process stays up; Mender (the simulator) receives
// no auth request the ambassador's own parser refuses, no preauthorization but of a valid request's identity and the
// certificate's key, no non-canonical path, and no identity-like header; connections and fds return to baseline.
import { createPublicKey } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Agent } from 'undici'
import { parseAuthRequest } from '../../src/gateway/device-auth/parse.js'
import { checkTarget } from '../../src/gateway/proxy/target.js'
import { AUTH_PATH } from '../../src/gateway/mender/paths.js'
import { openBackend, type Backend } from '../support/gateway.js'
import { deviceAgent, postAuth, signBody } from '../support/device.js'
import { rawExchange } from '../support/raw-tls.js'
import type { TestCert } from '../support/pki.js'
import { FuzzTally, mutated, outcome } from './support/fuzz.js'
import { Ledger, runPool } from './support/ledger.js'
import { ownFds, seriousLogs, settled, startGatewayProcess, type GatewayProcess, type Resources } from './support/resources.js'

const AUTH_BODIES = 300
const TARGETS = 300
const tally = new FuzzTally('fuzz-wire')
let backend: Backend
let gw: GatewayProcess
let device: TestCert
let agent: Agent
let baseline: Resources
const figures: Record<string, unknown> = {}

beforeAll(async () => {
  backend = await openBackend()
  device = await backend.pki.device('02:00:00:00:0f:01', 'ec')
  gw = await startGatewayProcess({ pki: backend.pki, backendUrl: backend.sim.url })
  agent = deviceAgent(backend.pki, device)
  baseline = await gw.sample()
}, 120_000)

afterAll(async () => {
  await agent?.close()
  const code = await gw?.stop()
  figures.exitCode = code
  tally.write(figures)
  await backend?.close()
})

const DEVICE_SPKI = (): string => createPublicKey(device.keyPem).export({ type: 'spki', format: 'pem' }).toString()

const identity = fc.oneof(
  fc.record({ mac: fc.constantFrom('02:00:00:00:0f:01', '02:00:00:00:0f:02'), n: fc.nat(50) }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.integer()),
    { maxKeys: 3 })
)
const KEYS = ['id_data', 'ID_DATA', 'Id_Data', 'pubkey', 'PUBKEY', 'pub\u212Aey', 'tenant_token', 'TENANT_TO\u212AEN', 'x']
const TOKENS = ['{', '}', '"', '\\', '\\u0000', ',', ':', 'null', '[', '\u0130', '\u212A'].map((t) => Buffer.from(t, 'utf8'))

/** Bodies signed with the device key after any damage, so the signature is rarely what decides. */
const extraField = fc.tuple(fc.constantFrom(...KEYS), fc.oneof(fc.string(), fc.constant(null)))
const authBody = fc.tuple(identity, fc.array(extraField, { maxLength: 3 }), fc.boolean()).map(([id, extra, flip]) => {
  const fields: Array<[string, unknown]> = [['id_data', JSON.stringify(id)], ['pubkey', 'PEM'], ...extra]
  if (flip) fields.reverse()
  const text = '{' + fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}'
  return Buffer.from(text.replace('"PEM"', JSON.stringify(DEVICE_SPKI())))
})
const hostileBody = fc.oneof({ weight: 2, arbitrary: authBody }, { weight: 2, arbitrary: mutated(authBody, TOKENS) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) })

describe('over-the-wire fuzzing', () => {
  it('answers hostile auth requests without a 5xx, forwarding and preauthorizing only valid ones', async () => {
    const bodies = fc.sample(hostileBody, AUTH_BODIES)
    const valid = new Set<string>()
    const validIdentities = new Set<string>()
    const ledger = new Ledger('auth bodies')
    await runPool(bodies, 8, async (body, i) => {
      const signature = signBody(body, device.keyPem)
      const parsed = outcome(() => parseAuthRequest(body, 'application/json', signature))
      if (parsed.kind === 'value') {
        valid.add(body.toString('base64'))
        validIdentities.add(JSON.stringify(parsed.value.identity))
      }
      await ledger.run(`auth-${i}`, async () => await postAuth(agent, gw.url, {
        body, headers: { 'content-type': 'application/json', 'x-men-signature': signature }
      }), (a) => {
        if (a.status >= 500) return `status ${a.status}: ${a.text}`
        if (parsed.kind !== 'value' && a.status < 400) return `invalid body answered ${a.status}`
        return true
      })
    })
    tally.add('auth bodies over the wire', bodies.length)
    figures.authBodies = { ...ledger.summary(), valid: valid.size }
    expect(ledger.problems).toEqual([])
    expect(ledger.complete()).toBe(true)
    expect(gw.alive()).toBe(true)
    const forwarded = backend.sim.requests.filter((r) => r.url === AUTH_PATH)
    expect(forwarded.filter((r) => !valid.has(r.bodyBytes.toString('base64'))).map((r) => r.bodyBytes.toString())).toEqual([])
    const devices = backend.sim.state.devices()
    for (const d of devices) {
      expect(validIdentities.has(JSON.stringify(d.identity))).toBe(true)
      for (const set of d.authSets) expect(createPublicKey(set.pubkey).export({ type: 'spki', format: 'pem' })).toBe(DEVICE_SPKI())
    }
    // the sample is worth something only if it reached Mender both ways
    expect(valid.size).toBeGreaterThan(20)
    expect(valid.size).toBeLessThan(bodies.length)
  })

  it('answers hostile targets and headers without a 5xx, forwarding only canonical paths and no identity header', async () => {
    const PIECES = ['v1', 'deployments', 'device', 'authentication', 'auth_requests', '.', '..', '%2e', '%2f', '%5c', '\\',
      '', ';x', '%00', '%41', '%', 'é', '?', '#', '@', 'inventory', 'attributes', 'http:', '%0d%0a']
    const target = fc.oneof(
      fc.tuple(fc.constantFrom('/api/devices/', '/', '//', 'https://localhost/', 'http://evil.example/', '*', 'evil.example:443'),
        fc.array(fc.constantFrom(...PIECES), { maxLength: 6 }), fc.constantFrom('/', '\\', '/'))
        .map(([head, pieces, sep]) => head + pieces.join(sep)),
      fc.string({ maxLength: 30 }).map((s) => '/api/devices/' + s.replace(/[\r\n]/g, ''))
    )
    const header = fc.tuple(fc.constantFrom('X-Forwarded-For', 'x_forwarded_for', 'Forwarded', 'X-Real-IP', 'X-Client-Cert',
      'X-Forwarded-Client-Cert', 'Connection', 'Transfer-Encoding', 'X-Custom', 'Expect'), fc.string({ maxLength: 12 })
      .map((s) => s.replace(/[\r\n]/g, '')))
    const cases = fc.sample(fc.tuple(target, fc.array(header, { maxLength: 3 }), fc.constantFrom('GET', 'PUT', 'POST', 'PATCH')), TARGETS)
    const ledger = new Ledger('targets')
    const since = backend.sim.requests.length
    await runPool(cases, 8, async ([t, headers, method], i) => {
      const lines = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')
      const bytes = `${method} ${t} HTTP/1.1\r\nHost: localhost\r\n${lines}Content-Length: 0\r\nConnection: close\r\n\r\n`
      await ledger.run(`target-${i}`, async () => await rawExchange(gw.port, backend.pki, device, bytes, 300),
        (a) => a.status === 0 && !a.closed ? 'no answer' : a.status >= 500 ? `status ${a.status}` : true)
    })
    tally.add('targets over the wire', cases.length)
    figures.targets = ledger.summary()
    expect(ledger.problems).toEqual([])
    expect(gw.alive()).toBe(true)
    const proxied = backend.sim.requests.slice(since).filter((r) => !r.url.startsWith('/api/management/'))
    for (const r of proxied) {
      const v = checkTarget(r.url)
      expect(v.ok && (v.path.startsWith('/api/devices/') || v.path === AUTH_PATH)).toBe(true)
      const names = Object.keys(r.headers)
      expect(names.filter((n) => n.includes('_') || ['forwarded', 'x-real-ip', 'x-client-cert', 'x-forwarded-client-cert',
        'transfer-encoding'].includes(n))).toEqual([])
      expect(r.headers['x-forwarded-for']).toBe('127.0.0.1')
    }
    figures.forwardedTargets = proxied.length
  })

  it('is back to its baseline of connections and file descriptors afterwards', async () => {
    await agent.close()
    agent = deviceAgent(backend.pki, device)
    const after = await settled(gw, baseline)
    figures.resources = { before: baseline, after }
    expect(after.openConnections).toBe(baseline.openConnections)
    expect(ownFds(after)).toBeLessThanOrEqual(ownFds(baseline) + 2)
    expect(gw.alive()).toBe(true)
    // no unexpected error, unhandled rejection or crash handler ran in the gateway
    expect(seriousLogs(gw)).toEqual([])
  })
})
