// The admission decision: OpenSSL's verdict, validity re-checked now (resumed sessions), revocation, grace window.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { makeTestPki, type TestCert, type TestPki } from '../support/pki.js'
import { decideAdmission, type AdmissionPolicy } from '../../src/tls/admission.js'
import { loadTrust, type TrustSnapshot } from '../../src/tls/trust.js'

let pki: TestPki
let snapshot: TrustSnapshot
const DAY = 86400_000

beforeAll(async () => {
  pki = await makeTestPki()
  snapshot = await loadTrust({
    cert: pki.server.chainPath,
    key: pki.server.keyPath,
    ca: pki.trust.path,
    denylist: '',
    crlPaths: [],
    sni: [],
    tenants: [],
    graceSeconds: 0,
    minVersion: '1.2'
  })
})

afterAll(async () => { await pki?.cleanup() })

const input = (
  dev: TestCert, authorized = true, verifyError: string | null = null
): Parameters<typeof decideAdmission>[0] =>
  ({ cert: new X509Certificate(dev.certPem), serial: dev.serialHex, authorized, verifyError })
const withGrace = (graceSeconds: number): Partial<AdmissionPolicy> =>
  ({ tenant: { ...snapshot.tenants[0]!, graceSeconds } })
const policy = (o: Partial<AdmissionPolicy> = {}): AdmissionPolicy => ({ snapshot, stalePolicy: 'keep', tenant: snapshot.tenants[0], ...o })

describe('decideAdmission', () => {
  it('admits a verified, valid, unrevoked certificate', () => {
    expect(decideAdmission(input(pki.devices.ec), policy())).toEqual({ ok: true })
  })

  it('refuses a certificate that expired after its session was verified (resumption)', () => {
    const later = Date.parse(new X509Certificate(pki.devices.ec.certPem).validTo) + DAY
    expect(decideAdmission(input(pki.devices.ec), policy({ now: later }))).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_CERT_EXPIRED' })
  })

  it('maps OpenSSL\'s verdict to a reason code', () => {
    expect(decideAdmission(input(pki.devices.foreign, false, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), policy())).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_UNKNOWN_CA' })
  })

  it('refuses a denylisted serial', () => {
    const s = { ...snapshot, denylist: new Set([pki.devices.ec.serialHex]) }
    expect(decideAdmission(input(pki.devices.ec), policy({ snapshot: s }))).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_REVOKED', detail: 'denylist' })
  })

  it('admits an expired certificate inside the grace window, flagged', () => {
    const expired = input(pki.devices.expired, false, 'CERT_HAS_EXPIRED')
    expect(decideAdmission(expired, policy(withGrace(7 * 86400)))).toEqual({ ok: true, grace: 'expired' })
  })

  it('refuses an expired certificate beyond the grace window', () => {
    const expired = input(pki.devices.expired, false, 'CERT_HAS_EXPIRED')
    expect(decideAdmission(expired, policy(withGrace(3600)))).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_CERT_EXPIRED' })
  })

  it('admits a not-yet-valid certificate inside the grace window (clock skew)', () => {
    const early = input(pki.devices.notYetValid, false, 'CERT_NOT_YET_VALID')
    expect(decideAdmission(early, policy(withGrace(2 * 86400)))).toEqual({ ok: true, grace: 'not_yet_valid' })
  })

  it('never extends grace to a certificate no tenant CA signed', async () => {
    const foreignExpired = await pki.device('foreign-expired', 'ec', { issuer: 'foreign', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) })
    expect(decideAdmission(input(foreignExpired, false, 'CERT_HAS_EXPIRED'), policy({ tenant: undefined }))).toMatchObject({ ok: false })
  })

  it('refuses a revoked certificate even inside the grace window', () => {
    const s = { ...snapshot, denylist: new Set([pki.devices.expired.serialHex]) }
    const expired = input(pki.devices.expired, false, 'CERT_HAS_EXPIRED')
    expect(decideAdmission(expired, policy({ snapshot: s, ...withGrace(7 * 86400) }))).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_REVOKED' })
  })
})
