// Hostile auth request bodies over real mTLS: the gateway reads fields by Go's rule and refuses ambiguous ones, bounds
// nesting and size, and takes only one strict PUBLIC KEY block; what it preauthorizes is what the simulator (a Go-rule
// Mender stand-in) registers, and no refusal reaches the simulator.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import type { Agent } from 'undici'
import type { TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, deviceAgent, postAuth, signBody, type Answer } from '../support/device.js'
import { rawObject, rewrap } from '../support/auth-bodies.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const TENANT_TOKEN = 'tok-good'

let pki: TestPki
let sim: Simulator
let backend: Backend
let gw: GatewayHandle
let ec: Agent
let rsa: Agent
let mac = 0

const q = (s: string): string => JSON.stringify(s)
const nextIdentity = (): Record<string, string> => ({ mac: `02:00:00:00:07:${(++mac).toString(16).padStart(2, '0')}` })
const spkiPemOf = (keyPem: string): string => createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString()
const authForwards = (): number => sim.requests.filter((r) => r.url.startsWith(AUTH_URL_PATH)).length
const preauthBodies = (): Array<Record<string, unknown>> => sim.requests.filter((r) => r.group === 'preauth')
  .map((r) => JSON.parse(r.bodyBytes.toString()) as Record<string, unknown>)

async function post (agent: Agent, body: Buffer, keyPem = pki.devices.ec.keyPem): Promise<Answer> {
  return await postAuth(agent, gw.url, { body, headers: { 'content-type': 'application/json', 'x-men-signature': signBody(body, keyPem) } })
}

/** The refusal shape: status, Mender's two-field body, the code in the log, nothing forwarded or preauthorized. */
async function expectRefused (res: Answer, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status)
  const body = JSON.parse(res.text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['error', 'request_id'])
  expect(gw.logs.some((l) => l.code === code && l.reqId === body.request_id)).toBe(true)
  expect(authForwards()).toBe(0)
  expect(sim.counts.preauth).toBe(0)
}

/** A normal device still gets in: the refusal left the gateway serving. */
async function expectStillServing (): Promise<void> {
  const identity = nextIdentity()
  const body = rawObject([['"id_data"', q(JSON.stringify(identity))], ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))], ['"tenant_token"', q(TENANT_TOKEN)]])
  expect((await post(ec, body)).status).toBe(200)
}

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  gw = await startGateway({
    pki, backendUrl: sim.url, overrides: { tenant_token: TENANT_TOKEN, body_limit: 1024 * 1024 }
  })
  ec = deviceAgent(pki, pki.devices.ec)
  rsa = deviceAgent(pki, pki.devices.rsa)
})

afterAll(async () => {
  await ec?.close()
  await rsa?.close()
  await gw?.close()
  await backend?.close()
})

beforeEach(() => { sim.reset() })

describe('auth body fields, read by Go\'s rule', () => {
  it('refuses id_data then ID_DATA carrying another identity (400 MTLS_ERR_AUTH_AMBIGUOUS_FIELD)', async () => {
    const pem = q(spkiPemOf(pki.devices.ec.keyPem))
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"ID_DATA"', q(JSON.stringify(nextIdentity()))],
      ['"pubkey"', pem], ['"tenant_token"', q(TENANT_TOKEN)]])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
    expect(sim.state.devices()).toEqual([])
  })

  it('refuses tenant_token then Tenant_Token (400 MTLS_ERR_AUTH_AMBIGUOUS_FIELD)', async () => {
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))],
      ['"tenant_token"', q(TENANT_TOKEN)], ['"Tenant_Token"', q('tok-of-another-tenant')]])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
  })

  it('refuses a key spelled with a dotless i, which Go versions fold differently (400 MTLS_ERR_AUTH_AMBIGUOUS_FIELD)', async () => {
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"\u0131d_data"', q(JSON.stringify(nextIdentity()))],
      ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))], ['"tenant_token"', q(TENANT_TOKEN)]])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
  })

  it('reads lone case variants (ID_DATA, pub\u212Aey with a Kelvin sign, Tenant_Token) as Go does', async () => {
    const identity = nextIdentity()
    const body = rawObject([['"ID_DATA"', q(JSON.stringify(identity))], ['"pub\u212Aey"', q(spkiPemOf(pki.devices.ec.keyPem))],
      ['"Tenant_Token"', q(TENANT_TOKEN)]])
    const res = await post(ec, body)
    expect(res.status).toBe(200)
    expect(preauthBodies().map((b) => b.identity_data)).toEqual([identity])
    expect(sim.state.devices().map((d) => [d.identity, d.status])).toEqual([[identity, 'accepted']])
  })

  it('refuses a tenant token spelled in another case that is not the tenant\'s (401 MTLS_ERR_AUTH_TENANT_TOKEN)', async () => {
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))],
      ['"TENANT_TOKEN"', q('tok-of-another-tenant')]])
    await expectRefused(await post(ec, body), 401, 'MTLS_ERR_AUTH_TENANT_TOKEN')
  })

  it('refuses a tenant_token that is not a string (400 MTLS_ERR_AUTH_MALFORMED, as Go fails to decode it)', async () => {
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))],
      ['"tenant_token"', '["tok-good"]']])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_MALFORMED')
  })
})

describe('nesting and size bounds', () => {
  const pemField = (): [string, string] => ['"pubkey"', q(spkiPemOf(pki.devices.ec.keyPem))]
  const tokenField: [string, string] = ['"tenant_token"', q(TENANT_TOKEN)]

  it('refuses id_data nested 5,000 deep (400 MTLS_ERR_AUTH_ID_DATA_TOO_DEEP)', async () => {
    const idData = `{"mac":"02:00:00:00:07:ff","l":${'['.repeat(5000)}${']'.repeat(5000)}}`
    await expectRefused(await post(ec, rawObject([['"id_data"', q(idData)], pemField(), tokenField])), 400, 'MTLS_ERR_AUTH_ID_DATA_TOO_DEEP')
    await expectStillServing()
  })

  it('refuses id_data nested 100,000 deep (400 MTLS_ERR_AUTH_ID_DATA_TOO_LARGE: beyond 16 KiB)', async () => {
    const idData = `{"l":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
    await expectRefused(await post(ec, rawObject([['"id_data"', q(idData)], pemField(), tokenField])), 400, 'MTLS_ERR_AUTH_ID_DATA_TOO_LARGE')
    await expectStillServing()
  })

  it('refuses id_data just above 16 KiB (400 MTLS_ERR_AUTH_ID_DATA_TOO_LARGE)', async () => {
    const idData = JSON.stringify({ mac: '02:00:00:00:07:fe', pad: 'x'.repeat(16 * 1024) })
    await expectRefused(await post(ec, rawObject([['"id_data"', q(idData)], pemField(), tokenField])), 400, 'MTLS_ERR_AUTH_ID_DATA_TOO_LARGE')
  })

  for (const depth of [5000, 100_000]) {
    it(`refuses a body nested ${depth.toLocaleString('en')} deep (400 MTLS_ERR_AUTH_TOO_DEEP)`, async () => {
      const body = rawObject([['"x"', '['.repeat(depth) + ']'.repeat(depth)], ['"id_data"', q(JSON.stringify(nextIdentity()))], pemField(), tokenField])
      await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_TOO_DEEP')
      await expectStillServing()
    })

    it(`refuses a body that is ${depth.toLocaleString('en')} unclosed brackets (400 MTLS_ERR_AUTH_TOO_DEEP)`, async () => {
      await expectRefused(await post(ec, Buffer.from('['.repeat(depth))), 400, 'MTLS_ERR_AUTH_TOO_DEEP')
    })
  }
})

describe('pubkey: exactly one PUBLIC KEY block', () => {
  it('refuses a broken PUBLIC KEY block followed by a PRIVATE KEY (400 MTLS_ERR_AUTH_BAD_PUBKEY); no private key goes upstream', async () => {
    const privatePem = createPrivateKey(pki.devices.ec.keyPem).export({ type: 'pkcs8', format: 'pem' }).toString()
    const pubkey = `-----BEGIN PUBLIC KEY-----\n!!!! broken !!!!\n-----END PUBLIC KEY-----\n${privatePem}`
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(pubkey)], ['"tenant_token"', q(TENANT_TOKEN)]])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_BAD_PUBKEY')
    expect(sim.requests.filter((r) => r.bodyBytes.includes('PRIVATE KEY'))).toEqual([])
  })

  it('refuses a PKCS#1 RSA PUBLIC KEY, which Mender does not accept either (400 MTLS_ERR_AUTH_BAD_PUBKEY)', async () => {
    const pkcs1 = createPublicKey(pki.devices.rsa.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString()
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(pkcs1)], ['"tenant_token"', q(TENANT_TOKEN)]])
    await expectRefused(await post(rsa, body, pki.devices.rsa.keyPem), 400, 'MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('refuses two PUBLIC KEY blocks (400 MTLS_ERR_AUTH_BAD_PUBKEY)', async () => {
    const pem = spkiPemOf(pki.devices.ec.keyPem)
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(pem + pem)], ['"tenant_token"', q(TENANT_TOKEN)]])
    await expectRefused(await post(ec, body), 400, 'MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('sends Mender\'s management API the canonical SPKI PEM, not the device\'s text (CRLF, 76 columns)', async () => {
    const canonical = spkiPemOf(pki.devices.ec.keyPem)
    const deviceText = rewrap(canonical, 76).replace(/\n/g, '\r\n')
    const body = rawObject([['"id_data"', q(JSON.stringify(nextIdentity()))], ['"pubkey"', q(deviceText)], ['"tenant_token"', q(TENANT_TOKEN)]])
    expect((await post(ec, body)).status).toBe(200)
    expect(preauthBodies().map((b) => b.pubkey)).toEqual([canonical])
  })
})
