import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { USER, basic, http, jwtClaims, login } from '../support/sim-helpers.js'

const LOGIN = '/api/management/v1/useradm/auth/login'
const TOKENS = '/api/management/v1/useradm/settings/tokens'
const DEVICES = '/api/management/v2/devauth/devices'

describe('simulator useradm login', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator({ users: [USER, { email: 'ops@example.com', password: 'pw' }], userTokenLifetimeSec: 3600 })
  })
  afterAll(async () => { await sim.close() })
  beforeEach(() => { sim.reset() })

  const post = async (headers: Record<string, string>, body?: string) =>
    await http(sim.url, LOGIN, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) })

  it('answers Basic credentials with a bare JWT as application/jwt', async () => {
    const res = await post({ authorization: basic(USER.email, USER.password) })
    expect([res.status, res.headers['content-type'], res.text.split('.').length]).toEqual([200, 'application/jwt', 3])
  })

  it('issues the contract claims', async () => {
    const claims = jwtClaims(await login(sim.url))
    expect(claims).toMatchObject({ iss: 'Mender', scp: 'mender.*', 'mender.user': true, sub: expect.any(String) })
  })

  it('omits mender.tenant on a single-tenant server', async () => {
    expect(jwtClaims(await login(sim.url))).not.toHaveProperty('mender.tenant')
  })

  it('expires the token after the configured lifetime', async () => {
    const claims = jwtClaims(await login(sim.url))
    expect(claims.exp - claims.iat).toBe(3600)
  })

  it('accepts a {"no_expiry": true} JSON body', async () => {
    const res = await post({ authorization: basic(USER.email, USER.password), 'content-type': 'application/json' },
      '{"no_expiry": true}')
    expect([res.status, jwtClaims(res.text).exp]).toEqual([200, undefined])
  })

  it('answers 415 to a body that is not JSON', async () => {
    const res = await post({ authorization: basic(USER.email, USER.password), 'content-type': 'text/plain' }, 'hello')
    expect(res.status).toBe(415)
  })

  it('answers 401 unauthorized to a wrong password', async () => {
    const res = await post({ authorization: basic(USER.email, 'wrong') })
    expect([res.status, res.json().error]).toEqual([401, 'unauthorized'])
  })

  it('answers 401 unauthorized to an unknown user', async () => {
    expect((await post({ authorization: basic('who@example.com', USER.password) })).status).toBe(401)
  })

  it('answers 401 invalid or missing auth header without Basic auth', async () => {
    const res = await post({ authorization: 'Bearer x' })
    expect([res.status, res.json().error]).toEqual([401, 'invalid or missing auth header'])
  })

  it('matches the email case-insensitively', async () => {
    expect((await post({ authorization: basic(USER.email.toUpperCase(), USER.password) })).status).toBe(200)
  })

  it('knows every configured user', async () => {
    expect((await post({ authorization: basic('ops@example.com', 'pw') })).status).toBe(200)
  })

  it('accepts its login tokens on the management API', async () => {
    const res = await http(sim.url, DEVICES, { headers: { authorization: `Bearer ${await login(sim.url)}` } })
    expect(res.status).toBe(200)
  })

  it('refuses a login token once it has expired (401)', async () => {
    sim.faults.tokenLifetime({ user: 0 })
    const res = await http(sim.url, DEVICES, { headers: { authorization: `Bearer ${await login(sim.url)}` } })
    expect(res.status).toBe(401)
  })
})

describe('simulator personal access tokens', () => {
  let sim: Simulator
  let token: string
  beforeAll(async () => { sim = await startSimulator() })
  afterAll(async () => { await sim.close() })
  beforeEach(async () => {
    sim.reset()
    token = await login(sim.url)
  })

  const createPat = async (name: string) => await http(sim.url, TOKENS, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name })
  })

  it('creates a token usable as a management Bearer', async () => {
    const pat = (await createPat('gateway')).text
    expect((await http(sim.url, DEVICES, { headers: { authorization: `Bearer ${pat}` } })).status).toBe(200)
  })

  it('refuses a second token with the same name (409)', async () => {
    await createPat('gateway')
    expect((await createPat('gateway')).status).toBe(409)
  })

  it('lists the tokens of the user', async () => {
    await createPat('gateway')
    const res = await http(sim.url, TOKENS, { headers: { authorization: `Bearer ${token}` } })
    expect(res.json()).toEqual([expect.objectContaining({ name: 'gateway', id: expect.any(String) })])
  })

  it('refuses a revoked token', async () => {
    const pat = (await createPat('gateway')).text
    await http(sim.url, `${TOKENS}/${jwtClaims(pat).jti}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
    expect((await http(sim.url, DEVICES, { headers: { authorization: `Bearer ${pat}` } })).status).toBe(401)
  })
})
