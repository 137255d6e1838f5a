// Fuzzing of the certificate inputs the ambassador parses itself: PEM files (every bundle, chain and CRL file goes
// through the one PEM scanner) and the DER fields the TLS guard reads (signature algorithm, extensions, keyUsage,
// extendedKeyUsage, subjectAltName). Real certificates of a per-run test PKI, mutated: the DER reader is total (a
// value or undefined, never a throw), the guard's policy and identity reading return a verdict, and the PEM scanner
// returns the exact blocks or an error naming the file and line, never a TypeError or RangeError.
import { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  canonicalIp, certificateExtensions, extendedKeyUsages, keyUsageBit, signatureAlgorithmOid, subjectAltNames
} from '../../src/x509/der.js'
import { pemBlocks, pemCertificates } from '../../src/x509/pem.js'
import { checkDeviceCert, DEFAULT_DEVICE_POLICY, explainUnspecified } from '../../src/tls/policy.js'
import { readPeer, sanValues } from '../../src/tls/peer.js'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { rewrap } from '../support/auth-bodies.js'
import { FuzzTally, mutated, outcome } from './support/fuzz.js'

const tally = new FuzzTally('fuzz-x509')
let pki: TestPki
let certs: X509Certificate[]

beforeAll(async () => {
  pki = await makeTestPki()
  const sans = await pki.device('fuzz-sans', 'ec', {
    dns: ['device.example', 'b.example'], uris: ['urn:dev:serial:SN-1'], ips: ['192.0.2.1', '2001:db8::1']
  })
  certs = [pki.root, pki.intermediate, pki.server, ...Object.values(pki.devices), sans]
    .map((c) => new X509Certificate(c.certPem))
}, 120_000)

afterAll(async () => {
  await pki?.cleanup()
  tally.write()
})

const SOURCE = 'fuzz.pem'
const DER_TOKENS = [
  [0x80], [0x81, 0xff], [0x82, 0xff, 0xff], [0x84, 0xff, 0xff, 0xff, 0xff], [0x85, 1, 0, 0, 0, 0], [0x00],
  [0x30, 0x00], [0x30, 0x80], [0xa3, 0x03, 0x30, 0x01], [0x06, 0x00], [0x06, 0x01, 0xff], [0x04, 0x00], [0x03, 0x00],
  [0x01, 0x01, 0xff], [0x87, 0x05, 1, 2, 3, 4, 5], [0x82, 0x00]].map((b) => Buffer.from(b))

const der = (): fc.Arbitrary<Buffer> => fc.constantFrom(...certs.map((c) => c.raw))

/** Every DER reading the guard does, on one input and on each extension value it finds. */
function readAll (bytes: Buffer): void {
  signatureAlgorithmOid(bytes)
  subjectAltNames(bytes)
  for (const e of certificateExtensions(bytes) ?? []) {
    for (let bit = 0; bit < 9; bit++) keyUsageBit(e.value, bit)
    extendedKeyUsages(e.value)
  }
}

/** A mutated certificate Node still parses goes through the policy and the identity reading as a peer would. */
function judge (bytes: Buffer): boolean {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(bytes)
  } catch {
    return false
  }
  const verdict = checkDeviceCert(cert, DEFAULT_DEVICE_POLICY)
  expect(typeof verdict.ok).toBe('boolean')
  expect(typeof readPeer(cert).ok).toBe('boolean')
  explainUnspecified([cert], certs.slice(0, 2))
  sanValues(cert)
  return true
}

const notCrash = (err: unknown): boolean => !(err instanceof TypeError) && !(err instanceof RangeError)

describe('DER fuzzing', () => {
  it('reads the real certificates as Node does', () => {
    for (const c of certs) {
      const sans = subjectAltNames(c.raw)
      expect(sans).toBeDefined()
      const named = [...(sans?.dns ?? []), ...(sans?.uri ?? []), ...(sans?.ip ?? []), ...(sans?.email ?? [])]
      // Node writes IPv6 addresses uncompressed
      expect(named.sort()).toEqual((sanValues(c) ?? []).map((v) => isIP(v) !== 0 ? canonicalIp(v) : v).sort())
      expect(checkDeviceCert(c, DEFAULT_DEVICE_POLICY)).toBeDefined()
    }
  })

  it('is total on mutated certificates: every reading returns, and a certificate Node parses gets a verdict', () => {
    let parsed = 0
    tally.check('mutated DER', mutated(der(), DER_TOKENS), (bytes) => {
      const got = outcome(() => readAll(bytes))
      if (got.kind !== 'value') throw new Error(`DER reading threw on ${bytes.toString('base64')}`)
      if (judge(bytes)) parsed++
    }, 15_000)
    // many mutations land in fields Node does not check (signature, names, extensions): those reach the policy
    expect(parsed).toBeGreaterThan(1000)
  })

  it('is total on random bytes and on random TLV nests', () => {
    const tlv: fc.Arbitrary<Buffer> = fc.letrec<{ node: Buffer }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 8 }))
          .map(([tag, body]) => Buffer.concat([Buffer.from([tag, body.length]), body])),
        fc.tuple(fc.constantFrom(0x30, 0xa3, 0x04, 0x03), fc.array(tie('node'), { maxLength: 4 }), fc.integer({ min: -2, max: 2 }))
          .map(([tag, kids, skew]) => {
            const body = Buffer.concat(kids)
            const len = Math.max(0, body.length + skew)
            return Buffer.concat([Buffer.from(len < 128 ? [tag, len] : [tag, 0x82, len >> 8, len & 0xff]), body])
          })
      )
    })).node
    const input = fc.oneof(fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)), tlv)
    tally.check('random DER', input, (bytes) => {
      readAll(bytes)
      readAll(Buffer.concat([Buffer.from([0x30, 0x82, bytes.length >> 8, bytes.length & 0xff]), bytes]))
    }, 10_000)
  })
})

/** A PEM bundle of real certificates, wrapped at any width, with LF or CRLF and text between the blocks. */
const bundle = fc.record({
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  width: fc.constantFrom(64, 76, 16, 1000),
  crlf: fc.boolean(),
  comment: fc.constantFrom('', 'subject=CN=x\n', '# comment\n', '\n\n', 'Certificate:\n    Data: …\n')
}).map((b) => {
  const chosen = b.picks.map((i) => certs[i % certs.length] as X509Certificate)
  const text = chosen.map((c) => b.comment + rewrap(c.toString(), b.width)).join('')
  return { ders: chosen.map((c) => c.raw), text: b.crlf ? text.replaceAll('\n', '\r\n') : text }
})

const PEM_TOKENS = ['-----BEGIN CERTIFICATE-----\n', '-----END CERTIFICATE-----\n', '-----BEGIN X509 CRL-----', '-----END',
  '-----BEGIN PRIVATE KEY-----\n', '=', '==', '\r', '\n', ' ', '\t', '-', '!', '\u0000', 'é', 'A', '+/', '-----'
].map((t) => Buffer.from(t, 'utf8'))

describe('PEM fuzzing', () => {
  it('reads every well-formed bundle into exactly its certificates, in order', () => {
    tally.check('PEM bundles', bundle, (b) => {
      const b64 = (d: Buffer): string => d.toString('base64')
      expect(pemCertificates(b.text, SOURCE).map((c) => b64(c.raw))).toEqual(b.ders.map(b64))
    }, 3_000)
  })

  it('reads a mutated bundle into whole blocks or an error naming the file, never a TypeError or RangeError', () => {
    const text = mutated(bundle.map((b) => Buffer.from(b.text, 'utf8')), PEM_TOKENS).map((t) => t.toString('utf8'))
    tally.check('mutated PEM', text, (t) => {
      for (const read of [(): unknown => pemBlocks(t, SOURCE), (): unknown => pemCertificates(t, SOURCE)]) {
        const got = outcome(read)
        if (got.kind === 'other') {
          expect(notCrash(got.error)).toBe(true)
          expect((got.error as Error).message.startsWith(SOURCE)).toBe(true)
        }
      }
      const blocks = outcome(() => pemBlocks(t, SOURCE))
      if (blocks.kind === 'value') for (const b of blocks.value) expect(b.der.length).toBeGreaterThan(0)
    }, 10_000)
  })
})
