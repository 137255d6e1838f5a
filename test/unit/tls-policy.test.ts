// Unit tests of the device certificate policy (leaf checks, explanations of UNSPECIFIED refusals) and of the DER
// reader that finds a certificate's signature algorithm.
import { X509Certificate } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkDeviceCert, explainUnspecified } from '../../src/tls/policy.js'
import { signatureAlgorithmOid } from '../../src/x509/der.js'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { CA_EXT, DEVICE_EXT, opensslCa, opensslCert } from '../support/openssl-certs.js'
import { craftCert, tlv } from '../support/crafted-cert.js'

let pki: TestPki
const x = (pem: string): X509Certificate => new X509Certificate(pem)
const policy = { rsaMinBits: 2048 }

beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

describe('signatureAlgorithmOid', () => {
  it('reads ecdsa-with-SHA256 from a PKI certificate', () => {
    expect(signatureAlgorithmOid(x(pki.devices.ec.certPem).raw)).toBe('1.2.840.10045.4.3.2')
  })

  it('reads sha1WithRSAEncryption', () => {
    const rsaCa = opensslCert(pki, 'u-rsa-ca', { key: 'rsa:2048', ext: CA_EXT })
    const dev = opensslCert(pki, 'u-sha1-rsa', { key: 'rsa:2048', md: 'sha1', issuer: rsaCa })
    expect(signatureAlgorithmOid(x(dev.certPem).raw)).toBe('1.2.840.113549.1.1.5')
  })

  it.each([[Buffer.alloc(0)], [Buffer.from('3003020101', 'hex')], [Buffer.from('30ff', 'hex')], [Buffer.from('3084ffffffff', 'hex')]])(
    'gives undefined for malformed DER %s', (der) => {
      expect(signatureAlgorithmOid(der)).toBeUndefined()
    })

  it('gives undefined for a certificate cut short', () => {
    const raw = x(pki.devices.ec.certPem).raw
    expect(signatureAlgorithmOid(raw.subarray(0, raw.length - 80))).toBeUndefined()
  })
})

describe('checkDeviceCert', () => {
  it.each(['rsa', 'ec', 'ed25519'] as const)('admits the PKI\'s %s device', (kind) => {
    expect(checkDeviceCert(x(pki.devices[kind].certPem), policy)).toEqual({ ok: true })
  })

  it('refuses a CA certificate as MTLS_ERR_TLS_CA_LEAF', () => {
    expect(checkDeviceCert(x(pki.intermediate.certPem), policy)).toMatchObject({ ok: false, reason: 'MTLS_ERR_TLS_CA_LEAF' })
  })

  it('refuses RSA-2048 when the minimum is 3072, saying the sizes', () => {
    expect(checkDeviceCert(x(pki.devices.rsa.certPem), { rsaMinBits: 3072 })).toEqual({ ok: false, reason: 'MTLS_ERR_TLS_WEAK_KEY', detail: 'RSA key of 2048 bits, below 3072' })
  })

  it('admits EC P-384 and refuses secp256k1', () => {
    expect(checkDeviceCert(x(opensslCert(pki, 'u-p384', { key: 'ec:P-384' }).certPem), policy)).toEqual({ ok: true })
    expect(checkDeviceCert(x(opensslCert(pki, 'u-k1', { key: 'ec:secp256k1' }).certPem), policy)).toMatchObject({ reason: 'MTLS_ERR_TLS_WEAK_KEY' })
  })

  it('refuses a keyUsage without digitalSignature and an EKU without clientAuth', () => {
    const ku = opensslCert(pki, 'u-ku', { ext: ['keyUsage=critical,keyAgreement', 'extendedKeyUsage=clientAuth'] })
    const eku = opensslCert(pki, 'u-eku', { ext: ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=emailProtection'] })
    expect([
      checkDeviceCert(x(ku.certPem), policy), checkDeviceCert(x(eku.certPem), policy)
    ].map((v) => !v.ok && v.reason))
      .toEqual(['MTLS_ERR_TLS_KEY_USAGE', 'MTLS_ERR_TLS_KEY_USAGE'])
  })

  it('admits a certificate with neither keyUsage nor EKU', () => {
    expect(checkDeviceCert(x(opensslCert(pki, 'u-bare', { ext: ['basicConstraints=CA:FALSE'] }).certPem), policy)).toEqual({ ok: true })
  })

  it('refuses SHA-1 and unknown critical extensions', () => {
    const sha1 = opensslCert(pki, 'u-sha1', { md: 'sha1' })
    const critical = opensslCert(pki, 'u-critical', { ext: [...DEVICE_EXT, '1.3.6.1.4.1.55555.7=critical,DER:0500'] })
    expect(checkDeviceCert(x(sha1.certPem), policy)).toEqual({ ok: false, reason: 'MTLS_ERR_TLS_WEAK_SIGNATURE', detail: 'ecdsa-with-SHA1' })
    expect(checkDeviceCert(x(critical.certPem), policy)).toMatchObject({ reason: 'MTLS_ERR_TLS_CRITICAL_EXTENSION', detail: expect.stringContaining('1.3.6.1.4.1.55555.7') })
  })

  it('never throws on a crafted certificate', () => {
    expect(() => checkDeviceCert(x(craftCert({ subject: tlv(0x30) }).certPem), policy)).not.toThrow()
  })
})

describe('explainUnspecified', () => {
  it('names a name-constrained CA of the chain', () => {
    const ca = opensslCa(pki, 'u-nc', ['nameConstraints=critical,permitted;DNS:.example.com'])
    const leaf = opensslCert(pki, 'u-nc-leaf', { issuer: ca, ext: [...DEVICE_EXT, 'subjectAltName=DNS:a.evil.org'] })
    expect(explainUnspecified([x(leaf.certPem), x(ca.certPem)], [x(pki.root.certPem)])).toMatchObject({ reason: 'MTLS_ERR_TLS_NAME_CONSTRAINTS' })
  })

  it('names a weak signature of an intermediate before the name constraints', () => {
    const ca = opensslCert(pki, 'u-sha1-ca', { md: 'sha1', ext: [...CA_EXT, 'nameConstraints=critical,permitted;DNS:.example.com'] })
    expect(explainUnspecified([x(pki.devices.ec.certPem), x(ca.certPem)], [])).toMatchObject({ reason: 'MTLS_ERR_TLS_WEAK_SIGNATURE' })
  })

  it('explains nothing for an ordinary chain', () => {
    expect(explainUnspecified(
      [x(pki.devices.viaIntermediate.certPem), x(pki.intermediate.certPem)], [x(pki.root.certPem)]
    )).toBeUndefined()
  })
})
