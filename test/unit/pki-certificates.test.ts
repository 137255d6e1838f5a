// Properties of the certificates the PKI module issues: extensions, names, validity, keys, serials, signatures.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { x509 } from '../../src/x509/peculiar.js'
import {
  createIntermediateCa, createRootCa, issueDeviceCert, issueServerCert, type Ca, type Issued
} from '../../src/tools/pki/index.js'

const DAY = 24 * 3600 * 1000
const parse = (pem: string): x509.X509Certificate => new x509.X509Certificate(pem)
const lifetimeDays = (c: x509.X509Certificate): number => (c.notAfter.getTime() - c.notBefore.getTime()) / DAY

let root: Ca
let inter: Ca
let server: Issued
let device: Issued

beforeAll(async () => {
  root = await createRootCa({ cn: 'unit root' })
  inter = await createIntermediateCa(root, { cn: 'unit intermediate' })
  server = await issueServerCert(root, { cn: 'localhost', dns: ['localhost', 'gw.test'], ips: ['127.0.0.1', '::1'] })
  device = await issueDeviceCert(inter, { cn: 'dev-1', uris: ['urn:dev:1'], emails: ['dev@example.com'] })
})

describe('createRootCa', () => {
  it('marks the certificate as a CA in a critical basicConstraints without a path length', () => {
    const bc = parse(root.certPem).getExtension(x509.BasicConstraintsExtension)
    expect([bc?.ca, bc?.critical, bc?.pathLength]).toEqual([true, true, undefined])
  })

  it('allows only certificate and CRL signing, critically', () => {
    const ku = parse(root.certPem).getExtension(x509.KeyUsagesExtension)
    expect([ku?.usages, ku?.critical]).toEqual([x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true])
  })

  it('names its own key as the authority key', () => {
    const cert = parse(root.certPem)
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(ski)
  })

  it('is self-signed', async () => {
    expect(await parse(root.certPem).isSelfSigned()).toBe(true)
  })

  it('is valid for ten years by default', () => {
    expect(Math.round(lifetimeDays(parse(root.certPem)))).toBe(3650)
  })

  it('starts about an hour in the past to tolerate slow clocks', () => {
    const lead = Date.now() - parse(root.certPem).notBefore.getTime()
    expect(lead).toBeGreaterThan(59 * 60 * 1000)
  })

  it('uses a full subject DN when one is given', async () => {
    const ca = await createRootCa({ cn: 'ignored', subject: 'CN=tenant A, O=Example, C=DE' })
    expect(new X509Certificate(ca.certPem).subject).toBe('CN=tenant A\nO=Example\nC=DE')
  })

  it('keeps a common name with a comma as one attribute', async () => {
    const ca = await createRootCa({ cn: 'Example, Inc. CA' })
    expect(parse(ca.certPem).subjectName.getField('CN')).toEqual(['Example, Inc. CA'])
  })
})

describe('createIntermediateCa', () => {
  it('limits the path length to 0', () => {
    expect(parse(inter.certPem).getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0)
  })

  it('names the root key as its authority key', () => {
    const rootSki = parse(root.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    expect(parse(inter.certPem).getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(rootSki)
  })

  it('bundles the root first, then itself', () => {
    expect(inter.bundlePem).toBe(root.certPem + inter.certPem)
  })

  it('leaves the root out of its chain', () => {
    expect(inter.chainPem).toBe(inter.certPem)
  })
})

describe('issueServerCert', () => {
  it('is for server authentication only', () => {
    expect(parse(server.certPem).getExtension(x509.ExtendedKeyUsageExtension)?.usages)
      .toEqual([x509.ExtendedKeyUsage.serverAuth])
  })

  it('carries the DNS and IP subject alternative names', () => {
    expect(new X509Certificate(server.certPem).subjectAltName)
      .toBe('DNS:localhost, DNS:gw.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  })

  it('uses an EC P-256 key by default', () => {
    expect(createPrivateKey(server.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
  })

  it('is valid for 397 days by default', () => {
    expect(Math.round(lifetimeDays(parse(server.certPem)))).toBe(397)
  })

  it('allows digitalSignature only for an EC key', () => {
    expect(parse(server.certPem).getExtension(x509.KeyUsagesExtension)?.usages)
      .toBe(x509.KeyUsageFlags.digitalSignature)
  })

  it('adds keyEncipherment for an RSA key', async () => {
    const rsa = await issueServerCert(root, { cn: 'rsa', dns: ['localhost'], keyType: 'rsa' })
    expect(parse(rsa.certPem).getExtension(x509.KeyUsagesExtension)?.usages)
      .toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment)
  })

  it('is not a CA', () => {
    expect(parse(server.certPem).getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false)
  })
})

describe('issueDeviceCert', () => {
  it('is for client authentication only', () => {
    expect(parse(device.certPem).getExtension(x509.ExtendedKeyUsageExtension)?.usages)
      .toEqual([x509.ExtendedKeyUsage.clientAuth])
  })

  it('carries the common name', () => {
    expect(new X509Certificate(device.certPem).subject).toBe('CN=dev-1')
  })

  it('carries URI and e-mail subject alternative names', () => {
    expect(new X509Certificate(device.certPem).subjectAltName).toBe('URI:urn:dev:1, email:dev@example.com')
  })

  it('has no subject alternative name extension when none is asked for', async () => {
    const plain = await issueDeviceCert(root, { cn: 'plain' })
    expect(new X509Certificate(plain.certPem).subjectAltName).toBeUndefined()
  })

  it('chains to its intermediate, leaf first, without the root', () => {
    expect(device.chainPem).toBe(device.certPem + inter.certPem)
  })

  it('is valid for ten years by default', () => {
    expect(Math.round(lifetimeDays(parse(device.certPem)))).toBe(3650)
  })

  it('never outlives its CA by default', async () => {
    const shortCa = await createRootCa({ cn: 'short', notAfter: new Date(Date.now() + 30 * DAY) })
    const dev = await issueDeviceCert(shortCa, { cn: 'capped' })
    expect(parse(dev.certPem).notAfter.getTime()).toBe(parse(shortCa.certPem).notAfter.getTime())
  })

  it('honours explicit validity dates', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z')
    const notAfter = new Date('2031-01-01T00:00:00Z')
    const dev = await issueDeviceCert(root, { cn: 'dated', notBefore, notAfter })
    expect([parse(dev.certPem).notBefore, parse(dev.certPem).notAfter]).toEqual([notBefore, notAfter])
  })

  it('reports the fingerprint Node computes', () => {
    expect(device.fingerprint256).toBe(new X509Certificate(device.certPem).fingerprint256)
  })

  it('reports the serial in lowercase hex', () => {
    expect(device.serialHex).toBe(new X509Certificate(device.certPem).serialNumber.toLowerCase())
  })
})
