import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import {
  authBody, authRequest, deviceKey, http, jwtClaims, login, preauth, signBody, type DeviceKey
} from '../support/sim-helpers.js'

const AUTH = '/api/devices/v1/authentication/auth_requests'
const ID = { mac: '02:00:00:00:00:01' }

describe('simulator device auth: server order', () => {
  let sim: Simulator
  let key: DeviceKey
  beforeAll(async () => {
    sim = await startSimulator()
    key = deviceKey('ec')
  })
  afterAll(async () => { await sim.close() })

  const post = async (
    body: string | Buffer, headers: Record<string, string>
  ): Promise<{ status: number, error: string }> => {
    const res = await http(sim.url, AUTH, { method: 'POST', headers, body })
    return { status: res.status, error: res.json().error }
  }

  it('answers 415 to a body that is not declared JSON, before decoding it', async () => {
    expect((await post('{', { 'content-type': 'text/plain' })).status).toBe(415)
  })

  it('answers 400 decode error to invalid JSON before checking the signature header', async () => {
    const res = await post('{', { 'content-type': 'application/json' })
    expect([res.status, res.error]).toEqual([400, expect.stringMatching(/^failed to decode auth request: /)])
  })

  it('answers 400 decode error when id_data is not a string', async () => {
    const res = await post(JSON.stringify({ id_data: ID, pubkey: key.pem }), { 'content-type': 'application/json' })
    expect([res.status, res.error]).toEqual([400, expect.stringMatching(/^failed to decode auth request: /)])
  })

  it('answers 400 invalid when id_data does not hold a JSON object, before the signature header', async () => {
    const res = await post(JSON.stringify({ id_data: '"x"', pubkey: key.pem }), { 'content-type': 'application/json' })
    expect([res.status, res.error]).toEqual([400, expect.stringMatching(/^invalid auth request: /)])
  })

  it('answers 400 invalid to a pubkey that is not a key', async () => {
    const res = await post(JSON.stringify({ id_data: '{"a":1}', pubkey: 'nope' }), { 'content-type': 'application/json' })
    expect([res.status, res.error]).toEqual([400, expect.stringMatching(/^invalid auth request: /)])
  })

  it('answers 400 to a missing signature header', async () => {
    const res = await post(authBody(ID, key.pem), { 'content-type': 'application/json' })
    expect([res.status, res.error]).toEqual([400, 'missing request signature header'])
  })

  it('answers 401 to a signature by another key', async () => {
    const res = await authRequest(sim.url, ID, key, { signer: deviceKey('ec') })
    expect([res.status, res.json().error]).toEqual([401, 'signature verification failed'])
  })

  it('verifies the signature over the exact bytes (extra whitespace signed as sent)', async () => {
    const token = await login(sim.url)
    await preauth(sim.url, token, { mac: 'ws' }, key.pem)
    const body = Buffer.from(`{ "pubkey" : ${JSON.stringify(key.pem)},\n  "id_data": "{\\"mac\\":\\"ws\\"}" }`)
    const res = await http(sim.url, AUTH, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-men-signature': signBody(body, key) }, body
    })
    expect(res.status).toBe(200)
  })

  it('echoes X-MEN-RequestID in the header and the error body', async () => {
    const res = await http(sim.url, AUTH, { method: 'POST', headers: { 'x-men-requestid': 'req-42' }, body: 'x' })
    expect([res.headers['x-men-requestid'], res.json().request_id]).toEqual(['req-42', 'req-42'])
  })

  it('generates a request id when none was sent', async () => {
    const res = await http(sim.url, AUTH, { method: 'POST', body: 'x' })
    expect(res.json().request_id).toBe(res.headers['x-men-requestid'])
  })
})

describe('simulator device auth: state table over HTTP', () => {
  let sim: Simulator
  let token: string
  beforeAll(async () => { sim = await startSimulator() })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    token = await login(sim.url)
  })

  it.each(['rsa', 'ec', 'ed25519'] as const)('admits a preauthorized %s device with a bare JWT', async (kind) => {
    const key = deviceKey(kind)
    await preauth(sim.url, token, ID, key.pem)
    const res = await authRequest(sim.url, ID, key)
    expect([res.status, res.headers['content-type'], /^[\w-]+\.[\w-]+\.[\w-]+$/.test(res.text)])
      .toEqual([200, 'application/jwt', true])
  })

  it('issues device JWTs with the contract claims', async () => {
    const key = deviceKey()
    await preauth(sim.url, token, ID, key.pem)
    const claims = jwtClaims((await authRequest(sim.url, ID, key)).text)
    const device = sim.state.deviceByIdentity(ID)!
    expect(claims).toMatchObject({ jti: device.authSets[0]!.id, sub: device.id, iss: 'Mender', 'mender.device': true })
  })

  it('creates an unknown identity as pending and answers 401', async () => {
    const res = await authRequest(sim.url, ID, deviceKey())
    expect([res.status, res.json().error, sim.state.deviceByIdentity(ID)?.status])
      .toEqual([401, 'dev auth: unauthorized', 'pending'])
  })

  it('adds a pending auth set when a preauthorized identity presents another key', async () => {
    await preauth(sim.url, token, ID, deviceKey().pem)
    const res = await authRequest(sim.url, ID, deviceKey())
    expect([res.status, sim.state.deviceByIdentity(ID)?.authSets.map((a) => a.status)])
      .toEqual([401, ['preauthorized', 'pending']])
  })

  it('renews the JWT of an accepted device', async () => {
    const key = deviceKey()
    await preauth(sim.url, token, ID, key.pem)
    await authRequest(sim.url, ID, key)
    expect((await authRequest(sim.url, ID, key)).status).toBe(200)
  })

  it('keeps answering 401 to a pending device with the same key', async () => {
    const key = deviceKey()
    await authRequest(sim.url, ID, key)
    expect((await authRequest(sim.url, ID, key)).status).toBe(401)
  })

  it('answers 401 to a rejected device with the same key', async () => {
    const key = deviceKey()
    await preauth(sim.url, token, ID, key.pem)
    await authRequest(sim.url, ID, key)
    const device = sim.state.deviceByIdentity(ID)!
    sim.state.setAuthSetStatus(device.id, device.authSets[0]!.id, 'rejected')
    expect((await authRequest(sim.url, ID, key)).status).toBe(401)
  })

  it('admits the new key after a force preauth and rejects the old key', async () => {
    const oldKey = deviceKey()
    const newKey = deviceKey()
    await preauth(sim.url, token, ID, oldKey.pem)
    await authRequest(sim.url, ID, oldKey)
    await preauth(sim.url, token, ID, newKey.pem, true)
    const statuses = [(await authRequest(sim.url, ID, newKey)).status, (await authRequest(sim.url, ID, oldKey)).status]
    expect([statuses, sim.state.deviceByIdentity(ID)?.authSets.map((a) => a.status)])
      .toEqual([[200, 401], ['rejected', 'accepted']])
  })

  it('matches a preauth whose PEM is wrapped differently from the request key', async () => {
    const key = deviceKey('rsa')
    const rewrapped = key.pem.replace(/\n/g, '\r\n').replace('-----\r\n', '-----\r\n\r\n')
    await preauth(sim.url, token, ID, rewrapped)
    expect((await authRequest(sim.url, ID, key)).status).toBe(200)
  })

  it('matches a preauth identity with keys in another order', async () => {
    const key = deviceKey()
    await preauth(sim.url, token, { sn: '1', mac: 'm' }, key.pem)
    expect((await authRequest(sim.url, { mac: 'm', sn: '1' }, key)).status).toBe(200)
  })

  it('ignores the tenant token on a single-tenant server', async () => {
    const key = deviceKey()
    await preauth(sim.url, token, ID, key.pem)
    expect((await authRequest(sim.url, ID, key, { tenantToken: 'whatever' })).status).toBe(200)
  })
})
