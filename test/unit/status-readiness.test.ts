// Unit tests of the readiness check: ready means TLS material valid and the mTLS listener up; management health and
// the last reload are advisory (reported, never deciding), and nothing waits for a login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkReadiness, type ReadinessInputs } from '../../src/status/readiness.js'
import { loadTlsMaterial, type TlsMaterial } from '../../src/tls/material.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let material: TlsMaterial
let expiry: number

beforeAll(async () => {
  pki = await makeTestPki()
  material = loadTlsMaterial({ cert: pki.server.chainPath, key: pki.server.keyPath, ca: pki.trust.path })
  expiry = Date.parse(material.serverCert.validTo)
})

afterAll(async () => { await pki.cleanup() })

const up = { ok: true, detail: 'ok since 2026-01-01T00:00:00.000Z' }
const down = { ok: false, detail: 'MTLS_ERR_MGMT_UNAVAILABLE (upstream 503) since 2026-01-01T00:00:00.000Z' }
const inputs = (extra: Partial<ReadinessInputs> = {}): ReadinessInputs =>
  ({ material, listening: true, management: up, ...extra })

describe('checkReadiness', () => {
  it('is ready when the certificate is valid and the listener is up', () => {
    expect(checkReadiness(inputs(), expiry - 1000)).toEqual({
      ready: true, checks: { tls: { ok: true }, listener: { ok: true }, management: { ...up, advisory: true } }
    })
  })

  it('stays ready while the management API is down', () => {
    expect(checkReadiness(inputs({ management: down }), expiry - 1000).ready).toBe(true)
  })

  it('reports the management state as an advisory check with its detail', () => {
    const r = checkReadiness(inputs({ management: down }), expiry - 1000)
    expect(r.checks.management).toEqual({ ...down, advisory: true })
  })

  it('is not ready while the mTLS listener is not listening', () => {
    const r = checkReadiness(inputs({ listening: false }), expiry - 1000)
    expect([r.ready, r.checks.listener]).toEqual([false, { ok: false, detail: 'mTLS listener not listening' }])
  })

  it('is not ready once the server certificate has expired', () => {
    expect(checkReadiness(inputs(), expiry + 1000).ready).toBe(false)
  })

  it('reports an expired server certificate', () => {
    const r = checkReadiness(inputs(), expiry + 1000)
    expect(r.checks.tls).toEqual({ ok: false, detail: 'server certificate expired' })
  })

  it('counts the expiry instant itself as expired', () => {
    expect(checkReadiness(inputs(), expiry).checks.tls?.ok).toBe(false)
  })

  it('uses the current time by default', () => {
    expect(checkReadiness(inputs()).checks.tls?.ok).toBe(true)
  })

  it('reports a failed reload without making the gateway unready', () => {
    const at = new Date(expiry - 5000)
    const lastReload = { ok: false, changed: false, trigger: 'watch', at, error: 'server key does not match' }
    const r = checkReadiness(inputs({ lastReload }), expiry - 1000)
    expect(r.ready).toBe(true)
    expect(r.checks.reload).toMatchObject({ ok: false, advisory: true })
    expect(r.checks.reload?.detail).toContain('server key does not match')
  })
})
