// Unit tests of the peer identity derived from a device certificate, and its per-socket registry.
import { X509Certificate, createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { commonName, identityOf, peerLog, peerOf, peerSpki, readPeer, sanValues, setPeer } from '../../src/tls/peer.js'
import { BROKEN_SAN, craftCert, extensionDer, tlv } from '../support/crafted-cert.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let cert: X509Certificate

beforeAll(async () => {
  pki = await makeTestPki()
  cert = new X509Certificate(pki.devices.ec.certPem)
})

afterAll(async () => { await pki.cleanup() })

/** A certificate stand-in with chosen serial/fingerprint spellings (real certificates rarely show them). */
function fakeCert (serialNumber: string, fingerprint256 = cert.fingerprint256): X509Certificate {
  return {
    subject: cert.subject, issuer: cert.issuer, serialNumber, fingerprint256, publicKey: cert.publicKey
  } as unknown as X509Certificate
}

describe('peerSpki', () => {
  /** Counts SPKI exports of the keys of `c` while `fn` runs. */
  function spkiExports (c: X509Certificate, fn: () => void): number {
    const spy = vi.spyOn(c.publicKey, 'export')
    try {
      fn()
      return spy.mock.calls.filter(([o]) => (o as { type?: string } | undefined)?.type === 'spki').length
    } finally {
      spy.mockRestore()
    }
  }

  it('reading a peer exports no SPKI (only the auth path and SPKI pins need it)', () => {
    const fresh = new X509Certificate(pki.devices.ec.certPem)
    expect(spkiExports(fresh, () => { expect(readPeer(fresh).ok).toBe(true) })).toBe(0)
  })

  it('exports the SPKI once per certificate, however often and from whichever copy of the peer it is asked', () => {
    const fresh = new X509Certificate(pki.devices.ec.certPem)
    const peer = identityOf(fresh)
    const copy = { ...peer, tenant: 'other' }
    let first: Buffer | undefined
    let second: Buffer | undefined
    expect(spkiExports(fresh, () => { first = peerSpki(peer); second = peerSpki(copy) })).toBe(1)
    expect(second).toBe(first)
  })

  it('refuses a certificate whose key does not read, as before the export was deferred', () => {
    const broken = { ...fakeCert('01'), subjectAltName: undefined } as unknown as X509Certificate
    Object.defineProperty(broken, 'publicKey', { get: () => { throw new Error('unsupported key') } })
    expect(readPeer(broken)).toEqual({ ok: false, detail: 'certificate does not parse: unsupported key' })
  })
})

describe('identityOf', () => {
  it('reads the subject common name', () => {
    expect(identityOf(cert).cn).toBe('ec')
  })

  it('writes a multi-line issuer DN on one line', () => {
    expect(identityOf(cert).issuer).toBe('CN=mtls-ambassador test root CA, O=test')
  })

  it('writes the subject DN', () => {
    expect(identityOf(cert).subject).toBe('CN=ec')
  })

  it('gives the serial as lowercase hex, as the PKI issued it', () => {
    expect(identityOf(cert).serial).toBe(pki.devices.ec.serialHex)
  })

  it('gives the fingerprint as lowercase hex without colons', () => {
    expect(identityOf(cert).fingerprint).toBe(pki.devices.ec.fingerprint256.replaceAll(':', '').toLowerCase())
  })

  it('gives the SHA-256 of the DER certificate as fingerprint', () => {
    expect(identityOf(cert).fingerprint).toBe(createHash('sha256').update(cert.raw).digest('hex'))
  })

  it('gives the SPKI DER of the certificate key, the bytes an eager export gives', () => {
    const fresh = new X509Certificate(pki.devices.ec.certPem)
    expect(peerSpki(identityOf(fresh)).equals(fresh.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true)
  })

  it('keeps the certificate', () => {
    expect(identityOf(cert).cert).toBe(cert)
  })

  it('lower-cases an upper-case serial', () => {
    expect(identityOf(fakeCert('0ABCDEF1')).serial).toBe('abcdef1')
  })

  it('strips leading zeros of the serial', () => {
    expect(identityOf(fakeCert('000012')).serial).toBe('12')
  })

  it('keeps a serial of zero as 0', () => {
    expect(identityOf(fakeCert('00')).serial).toBe('0')
  })

  it('normalises a fingerprint written with colons and upper case', () => {
    expect(identityOf(fakeCert('01', 'AB:CD:EF:01')).fingerprint).toBe('abcdef01')
  })
})

describe('commonName', () => {
  it('finds CN on any line of the DN', () => {
    expect(commonName('C=DE\nO=Acme\nCN=device-7')).toBe('device-7')
  })

  it('returns an empty string without a CN', () => {
    expect(commonName('O=Acme\nOU=fleet')).toBe('')
  })

  it('does not mistake another attribute ending in CN for the CN', () => {
    expect(commonName('XCN=other\nO=x')).toBe('')
  })

  it('gives an empty CN for a certificate without subject', () => {
    expect(commonName(undefined)).toBe('')
  })
})

describe('readPeer (untrusted certificates)', () => {
  it('refuses a negative serial with a reason instead of throwing', () => {
    const r = readPeer(new X509Certificate(craftCert({ serial: Buffer.from([0xfb]) }).certPem))
    expect(r).toMatchObject({ ok: false, detail: expect.stringContaining('-05') })
  })

  it('refuses a subjectAltName that does not decode', () => {
    expect(readPeer(new X509Certificate(craftCert({ extensions: [BROKEN_SAN] }).certPem))).toMatchObject({ ok: false })
  })

  it('reads a subjectAltName Node cannot format (not a SEQUENCE) as undecodable, without throwing', () => {
    // Node 22 and 24 throw from subjectAltName here (Node 20 returned null)
    const bad = extensionDer('551d11', tlv(0x00, tlv(0x82, Buffer.from('device.example'))))
    const c = new X509Certificate(craftCert({ extensions: [bad] }).certPem)
    expect([sanValues(c), readPeer(c)]).toEqual([undefined, { ok: false, detail: 'subjectAltName does not decode' }])
  })

  it('reads an undecodable subjectAltName as undefined and refuses it by name, on every Node version', () => {
    // a GeneralName with universal tag 0 (fuzzing counterexample): Node 20 reports null, Node 24 throws
    const san = extensionDer('551d11', Buffer.from('301182096c6f63616c686f737400047f000001', 'hex'))
    const broken = new X509Certificate(craftCert({ extensions: [san] }).certPem)
    expect(sanValues(broken)).toBeUndefined()
    expect(readPeer(broken)).toEqual({ ok: false, detail: 'subjectAltName does not decode' })
  })

  it('reads a certificate with an empty subject as an empty CN and DN', () => {
    const r = readPeer(new X509Certificate(craftCert({ subject: tlv(0x30) }).certPem))
    expect(r.ok && [r.peer.cn, r.peer.subject, r.peer.names]).toEqual(['', '', []])
  })

  it('never throws, whatever the object', () => {
    expect(readPeer({} as unknown as X509Certificate).ok).toBe(false)
  })
})

describe('peer registry', () => {
  it('returns the peer set for a socket', () => {
    const socket = {}
    const peer = identityOf(cert)
    setPeer(socket as never, peer)
    expect(peerOf(socket)).toBe(peer)
  })

  it('returns undefined for a socket never admitted', () => {
    expect(peerOf({})).toBeUndefined()
  })

  it('logs only cn, serial, fingerprint and tenant', () => {
    const peer = identityOf(cert, 'acme')
    expect(peerLog(peer)).toEqual({ cn: 'ec', serial: peer.serial, fingerprint: peer.fingerprint, tenant: 'acme' })
  })

  it('logs nothing for no peer', () => {
    expect(peerLog(undefined)).toBeUndefined()
  })
})
