// The PKI's certificates and CRLs as the openssl command line sees them: chains verify for the right purpose,
// impostors and expired certificates do not, CRLs parse and revoke.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestPki, type TestPki } from '../support/pki.js'

interface Run { code: number | null, out: string }

function openssl (...args: string[]): Run {
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

/** `openssl verify` of a device chain file against `caFile` for the TLS-client purpose. */
const verifyClient = (caFile: string, chainPath: string, ...extra: string[]): Run =>
  openssl('verify', '-purpose', 'sslclient', '-CAfile', caFile, '-untrusted', chainPath, ...extra, chainPath)

let pki: TestPki
beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

describe('openssl verify', () => {
  it('accepts the RSA device for client authentication', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.rsa.chainPath).code).toBe(0)
  })

  it('accepts the EC device for client authentication', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.ec.chainPath).code).toBe(0)
  })

  it('accepts the Ed25519 device for client authentication', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.ed25519.chainPath).code).toBe(0)
  })

  it('accepts the intermediate-issued device through its chain file', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.viaIntermediate.chainPath).code).toBe(0)
  })

  it('accepts the intermediate-issued leaf alone against the trust bundle', () => {
    const r = openssl('verify', '-purpose', 'sslclient', '-CAfile', pki.trust.path, pki.devices.viaIntermediate.certPath)
    expect(r.code).toBe(0)
  })

  it('accepts the server certificate for server authentication', () => {
    expect(openssl('verify', '-purpose', 'sslserver', '-CAfile', pki.root.certPath, pki.server.certPath).code).toBe(0)
  })

  it('rejects the server certificate for client authentication', () => {
    expect(openssl('verify', '-purpose', 'sslclient', '-CAfile', pki.root.certPath, pki.server.certPath).code).not.toBe(0)
  })

  it('rejects the foreign device', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.foreign.chainPath).code).not.toBe(0)
  })

  it('rejects the device of the fake CA that shares the root\'s subject DN', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.fakeRoot.chainPath).code).not.toBe(0)
  })

  it('rejects the expired device as expired', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.expired.chainPath).out).toMatch(/certificate has expired/)
  })

  it('rejects the not-yet-valid device as not yet valid', () => {
    expect(verifyClient(pki.root.certPath, pki.devices.notYetValid.chainPath).out).toMatch(/certificate is not yet valid/)
  })
})

describe('openssl and CRLs', () => {
  it('lists a revoked serial in the CRL text', async () => {
    const crl = await pki.crl('root-text', [pki.devices.ec.serialHex])
    expect(openssl('crl', '-in', crl.path, '-noout', '-text').out).toContain(`Serial Number: ${pki.devices.ec.serialHex.toUpperCase()}`)
  })

  it('verifies the CRL signature with the CA certificate', async () => {
    const crl = await pki.crl('root-sig', [])
    expect(openssl('crl', '-in', crl.path, '-noout', '-CAfile', pki.root.certPath).out).toMatch(/verify OK/)
  })

  it('reports a listed device as revoked', async () => {
    const crl = await pki.crl('root-revoked', [pki.devices.rsa.serialHex])
    const r = verifyClient(pki.root.certPath, pki.devices.rsa.chainPath, '-crl_check', '-CRLfile', crl.path)
    expect(r.out).toMatch(/certificate revoked/)
  })

  it('passes a device the CRL does not list', async () => {
    const crl = await pki.crl('root-other', [pki.devices.rsa.serialHex])
    expect(verifyClient(pki.root.certPath, pki.devices.ed25519.chainPath, '-crl_check', '-CRLfile', crl.path).code).toBe(0)
  })

  it('revokes through an intermediate CA\'s CRL', async () => {
    const crl = await pki.crl('intermediate', [pki.devices.viaIntermediate.serialHex], { issuer: 'intermediate' })
    const r = verifyClient(pki.root.certPath, pki.devices.viaIntermediate.chainPath, '-crl_check', '-CRLfile', crl.path)
    expect(r.out).toMatch(/certificate revoked/)
  })
})
