// Keys and signatures of issued certificates: key types and sizes, reuse of existing keys, serial numbers, and
// the signature algorithm that follows the issuing CA's key type.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { x509 } from '../../src/x509/peculiar.js'
import { createRootCa, issueDeviceCert, type Ca, type Issued } from '../../src/tools/pki/index.js'

const parse = (pem: string): x509.X509Certificate => new x509.X509Certificate(pem)

let root: Ca
let device: Issued

beforeAll(async () => {
  root = await createRootCa({ cn: 'keys root' })
  device = await issueDeviceCert(root, { cn: 'dev-keys' })
})

describe('device keys', () => {
  it('generates an RSA-2048 key for keyType rsa', async () => {
    const dev = await issueDeviceCert(root, { cn: 'rsa', keyType: 'rsa' })
    expect(createPrivateKey(dev.keyPem).asymmetricKeyDetails?.modulusLength).toBe(2048)
  })

  it('generates an RSA-3072 key when asked for 3072 bits', async () => {
    const dev = await issueDeviceCert(root, { cn: 'rsa3072', keyType: 'rsa', rsaBits: 3072 })
    expect(createPrivateKey(dev.keyPem).asymmetricKeyDetails?.modulusLength).toBe(3072)
  })

  it('generates an Ed25519 key for keyType ed25519', async () => {
    const dev = await issueDeviceCert(root, { cn: 'ed', keyType: 'ed25519' })
    expect(createPrivateKey(dev.keyPem).asymmetricKeyType).toBe('ed25519')
  })

  it('generates an EC P-384 key for keyType ec-p384', async () => {
    const dev = await issueDeviceCert(root, { cn: 'p384', keyType: 'ec-p384' })
    expect([dev.keyType, createPrivateKey(dev.keyPem).asymmetricKeyDetails?.namedCurve]).toEqual(['ec-p384', 'secp384r1'])
  })

  it('certifies an existing P-384 key (SEC1) as ec-p384', async () => {
    const p384 = await issueDeviceCert(root, { cn: 'p384-a', keyType: 'ec-p384' })
    const sec1 = createPrivateKey(p384.keyPem).export({ type: 'sec1', format: 'pem' }).toString()
    const again = await issueDeviceCert(root, { cn: 'p384-b', keyPem: sec1 })
    expect([again.keyType, new X509Certificate(again.certPem).publicKey.equals(createPublicKey(sec1))]).toEqual(['ec-p384', true])
  })

  it('exports keys as PKCS#8 PEM', () => {
    expect(device.keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true)
  })

  it('certifies an existing key when given one', async () => {
    const again = await issueDeviceCert(root, { cn: 'again', keyPem: device.keyPem })
    expect(new X509Certificate(again.certPem).publicKey.equals(createPublicKey(device.keyPem))).toBe(true)
  })

  it('accepts an existing EC key in SEC1 form', async () => {
    const sec1 = createPrivateKey(device.keyPem).export({ type: 'sec1', format: 'pem' }).toString()
    const again = await issueDeviceCert(root, { cn: 'sec1', keyPem: sec1 })
    expect(again.keyPem).toBe(device.keyPem)
  })

  it('refuses an existing key of another type than asked for', async () => {
    await expect(issueDeviceCert(root, { cn: 'x', keyPem: device.keyPem, keyType: 'rsa' })).rejects.toThrow(/ec key/)
  })
})

describe('serials and signatures', () => {
  it('gives every certificate a distinct positive 16-byte serial', async () => {
    const certs = await Promise.all(Array.from({ length: 20 }, async (_, i) => await issueDeviceCert(root, { cn: `s${i}` })))
    const serials = new Set(certs.map((c) => c.serialHex).filter((s) => /^[4-7][0-9a-f]{31}$/.test(s)))
    expect(serials.size).toBe(20)
  })

  it('signs with ecdsa-with-SHA256 under an EC CA', () => {
    expect(parse(device.certPem).signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } })
  })

  it('signs with sha256WithRSAEncryption under an RSA CA', async () => {
    const rsaCa = await createRootCa({ cn: 'rsa ca', keyType: 'rsa' })
    const dev = await issueDeviceCert(rsaCa, { cn: 'under-rsa' })
    expect(parse(dev.certPem).signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } })
  })

  it('signs with ecdsa-with-SHA384 under a P-384 CA', async () => {
    const p384Ca = await createRootCa({ cn: 'p384 ca', keyType: 'ec-p384' })
    const dev = await issueDeviceCert(p384Ca, { cn: 'under-p384' })
    expect(parse(dev.certPem).signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-384' } })
    expect(new X509Certificate(dev.certPem).verify(createPublicKey(p384Ca.keyPem))).toBe(true)
  })

  it('signs with pure Ed25519 under an Ed25519 CA', async () => {
    const edCa = await createRootCa({ cn: 'ed ca', keyType: 'ed25519' })
    const dev = await issueDeviceCert(edCa, { cn: 'under-ed' })
    expect(new X509Certificate(dev.certPem).verify(createPublicKey(edCa.keyPem))).toBe(true)
  })
})
