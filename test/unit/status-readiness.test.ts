// Unit tests of the readiness check: TLS material validity and management token availability.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { checkReadiness } from '../../src/status/readiness.js'
import { loadTlsMaterial, type TlsMaterial } from '../../src/tls/material.js'
import { HttpErrors } from '../../src/errors.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let material: TlsMaterial
let expiry: number

beforeAll(async () => {
  pki = await makeTestPki()
  material = loadTlsMaterial({ server_cert: pki.server.chainPath, server_key: pki.server.keyPath, tenant_ca_pem: pki.trust.path })
  expiry = Date.parse(material.serverCert.validTo)
})

afterAll(async () => { await pki.cleanup() })
afterEach(() => { vi.useRealTimers() })

const working = { token: async () => 'jwt' }
const failing = { token: async (): Promise<string> => { throw new HttpErrors.MGMT_LOGIN_FAILED() } }

describe('checkReadiness', () => {
  it('is ready when the certificate is valid and a token can be had', async () => {
    expect(await checkReadiness(material, working, undefined, expiry - 1000)).toEqual({
      ready: true, checks: { tls: { ok: true }, management: { ok: true } }
    })
  })

  it('is not ready when management fails', async () => {
    expect((await checkReadiness(material, failing, undefined, expiry - 1000)).ready).toBe(false)
  })

  it('reports the management error code', async () => {
    expect((await checkReadiness(material, failing, undefined, expiry - 1000)).checks.management)
      .toEqual({ ok: false, detail: 'MTLS_ERR_MGMT_LOGIN_FAILED' })
  })

  it('reports the message of an uncoded management error', async () => {
    const broken = { token: async (): Promise<string> => { throw new Error('boom') } }
    expect((await checkReadiness(material, broken, undefined, expiry - 1000)).checks.management?.detail).toBe('boom')
  })

  it('is not ready once the server certificate has expired', async () => {
    expect((await checkReadiness(material, working, undefined, expiry + 1000)).ready).toBe(false)
  })

  it('reports an expired server certificate', async () => {
    expect((await checkReadiness(material, working, undefined, expiry + 1000)).checks.tls).toEqual({ ok: false, detail: 'server certificate expired' })
  })

  it('counts the expiry instant itself as expired', async () => {
    expect((await checkReadiness(material, working, undefined, expiry)).checks.tls?.ok).toBe(false)
  })

  it('uses the current time by default', async () => {
    expect((await checkReadiness(material, working)).checks.tls?.ok).toBe(true)
  })

  it('gives up on a management check that hangs for 5 s', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const hanging = { token: async () => await new Promise<string>(() => {}) }
    const result = checkReadiness(material, hanging, undefined, expiry - 1000)
    await vi.advanceTimersByTimeAsync(5000)
    expect((await result).checks.management).toEqual({ ok: false, detail: 'timeout' })
  })

  it('reports a failed reload without making the gateway unready', async () => {
    const lastReload = { ok: false, changed: false, trigger: 'watch', at: new Date(expiry - 5000), error: 'server key does not match' }
    const r = await checkReadiness(material, working, lastReload, expiry - 1000)
    expect(r.ready).toBe(true)
    expect(r.checks.reload).toMatchObject({ ok: false, advisory: true })
    expect(r.checks.reload?.detail).toContain('server key does not match')
  })

  it('leaves no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    await checkReadiness(material, working, undefined, expiry - 1000)
    expect(vi.getTimerCount()).toBe(0)
  })
})
