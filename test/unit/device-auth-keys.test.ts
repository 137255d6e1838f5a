// Unit tests of public-key parsing, normalisation and comparison.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { deviceKeyType, parsePublicKey, sameKey, spkiDer, spkiPem } from '../../src/gateway/device-auth/keys.js'

let rsa: { publicKey: KeyObject, privateKey: KeyObject }
let ec: { publicKey: KeyObject, privateKey: KeyObject }
let ed: { publicKey: KeyObject, privateKey: KeyObject }

beforeAll(() => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ed = generateKeyPairSync('ed25519')
})

const pemOf = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString()
const der = (pem: string): Buffer => spkiDer(parsePublicKey(pem))

/** The same PEM with its base64 body re-wrapped at `width` columns and the given line ending. */
function rewrap (pem: string, width: number, eol = '\n'): string {
  const lines = pem.trim().split('\n')
  const body = lines.slice(1, -1).join('')
  const wrapped = body.match(new RegExp(`.{1,${width}}`, 'g')) ?? []
  return [lines[0], ...wrapped, lines.at(-1)].join(eol) + eol
}

describe('parsePublicKey', () => {
  it('parses an SPKI PEM', () => {
    expect(parsePublicKey(pemOf(ec.publicKey)).type).toBe('public')
  })

  it('refuses a PKCS#1 RSA PUBLIC KEY (Mender accepts only SPKI `PUBLIC KEY` blocks)', () => {
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    expect(() => parsePublicKey(pkcs1)).toThrow()
  })

  it('refuses a PKCS#8 private key', () => {
    expect(() => parsePublicKey(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow()
  })

  it('refuses a SEC1 EC private key', () => {
    expect(() => parsePublicKey(ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString())).toThrow()
  })

  it('refuses a PKCS#1 RSA private key', () => {
    expect(() => parsePublicKey(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString())).toThrow()
  })

  it('refuses text that is not PEM', () => {
    expect(() => parsePublicKey('not a key')).toThrow()
  })

  it('refuses an empty string', () => {
    expect(() => parsePublicKey('')).toThrow()
  })

  it('refuses a public key PEM with a corrupted body', () => {
    const pem = pemOf(ec.publicKey).replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!')
    expect(() => parsePublicKey(pem)).toThrow()
  })
})

describe('parsePublicKey: exactly one PUBLIC KEY block', () => {
  const pem = (): string => pemOf(ec.publicKey)
  const privatePem = (): string => ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  /** A PUBLIC KEY PEM around arbitrary DER. */
  const wrapDer = (bytes: Buffer): string => `-----BEGIN PUBLIC KEY-----\n${bytes.toString('base64')}\n-----END PUBLIC KEY-----\n`

  it.each([
    ['a broken PUBLIC KEY block followed by a PRIVATE KEY', () => `-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n${privatePem()}`],
    ['two PUBLIC KEY blocks', () => pem() + pemOf(rsa.publicKey)],
    ['a PUBLIC KEY block followed by a PRIVATE KEY', () => pem() + privatePem()],
    ['text before the block', () => `key:\n${pem()}`],
    ['text after the block', () => `${pem()}trailing\n`],
    ['base64 on the BEGIN line', () => pem().replace('-----\n', '-----')],
    ['a header line', () => pem().replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')],
    ['an empty block', () => '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n'],
    ['a mislabelled END line', () => pem().replace('END PUBLIC KEY', 'END RSA PUBLIC KEY')],
    ['a base64 body without its padding', () => pem().replace('==\n-----END', '\n-----END')],
    ['non-ASCII whitespace around the block', () => `\u00a0${pem()}`],
    ['a certificate', () => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
    ['SPKI DER with trailing bytes', () => wrapDer(Buffer.concat([spkiDer(ec.publicKey), Buffer.from([0, 0])]))],
    ['a PKCS#1 body labelled PUBLIC KEY', () => wrapDer(rsa.publicKey.export({ type: 'pkcs1', format: 'der' }))]
  ])('refuses %s', (_name, text) => {
    expect(() => parsePublicKey(text())).toThrow()
  })

  it('refuses a compressed EC point, which Go\'s x509 cannot read', () => {
    const jwk = ec.publicKey.export({ format: 'jwk' })
    const x = Buffer.from(jwk.x ?? '', 'base64url')
    const y = Buffer.from(jwk.y ?? '', 'base64url')
    const prefix = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex')
    const compressed = Buffer.concat([prefix, Buffer.from([2 + ((y.at(-1) ?? 0) & 1)]), x])
    expect(createPublicKey({ key: compressed, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec')
    expect(() => parsePublicKey(`-----BEGIN PUBLIC KEY-----\n${compressed.toString('base64')}\n-----END PUBLIC KEY-----\n`)).toThrow()
  })

  it.each(['rsa', 'ec', 'ed25519'] as const)('accepts the canonical SPKI PEM of an %s key', (type) => {
    const key = { rsa, ec, ed25519: ed }[type].publicKey
    expect(sameKey(spkiDer(parsePublicKey(pemOf(key))), spkiDer(key))).toBe(true)
  })
})

describe('key normalisation', () => {
  it('treats a PEM wrapped at 76 columns as the same key', () => {
    const pem = pemOf(rsa.publicKey)
    expect(sameKey(der(pem), der(rewrap(pem, 76)))).toBe(true)
  })

  it('treats CRLF line endings as the same key', () => {
    const pem = pemOf(rsa.publicKey)
    expect(sameKey(der(pem), der(rewrap(pem, 64, '\r\n')))).toBe(true)
  })

  it('treats blank lines around the PEM as the same key', () => {
    const pem = pemOf(ec.publicKey)
    expect(sameKey(der(pem), der(`\n\n${pem}\n\n`))).toBe(true)
  })

  it('treats a PEM without its final newline as the same key', () => {
    const pem = pemOf(ed.publicKey)
    expect(sameKey(der(pem), der(pem.trimEnd()))).toBe(true)
  })

  it('treats spaces and tabs inside the base64 body as the same key', () => {
    const pem = pemOf(rsa.publicKey)
    expect(sameKey(der(pem), der(pem.replace(/\n(?!-)/g, ' \t\n  ')))).toBe(true)
  })

  it('tells two different EC keys apart', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
    expect(sameKey(spkiDer(ec.publicKey), spkiDer(other))).toBe(false)
  })

  it('tells keys of different types apart', () => {
    expect(sameKey(spkiDer(ec.publicKey), spkiDer(ed.publicKey))).toBe(false)
  })

  it('tells equal-length buffers that differ in one byte apart', () => {
    const a = spkiDer(ec.publicKey)
    const b = Buffer.from(a)
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1
    expect(sameKey(a, b)).toBe(false)
  })

  it('spkiPem writes a `PUBLIC KEY` PEM of the same key', () => {
    const pem = spkiPem(parsePublicKey(rewrap(pemOf(rsa.publicKey), 76, '\r\n')))
    expect([pem.startsWith('-----BEGIN PUBLIC KEY-----'), sameKey(der(pem), spkiDer(rsa.publicKey))]).toEqual([true, true])
  })
})

describe('deviceKeyType', () => {
  it('accepts RSA', () => {
    expect(deviceKeyType(rsa.publicKey)).toBe('rsa')
  })

  it('accepts EC P-256', () => {
    expect(deviceKeyType(ec.publicKey)).toBe('ec')
  })

  it('accepts Ed25519', () => {
    expect(deviceKeyType(ed.publicKey)).toBe('ed25519')
  })

  it('accepts EC P-384', () => {
    expect(deviceKeyType(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)).toBe('ec')
  })

  it.each(['P-521', 'secp256k1'])('refuses EC %s', (namedCurve) => {
    expect(deviceKeyType(generateKeyPairSync('ec', { namedCurve }).publicKey)).toBeUndefined()
  })

  it('refuses Ed448', () => {
    expect(deviceKeyType(generateKeyPairSync('ed448').publicKey)).toBeUndefined()
  })

  it('refuses X25519', () => {
    expect(deviceKeyType(generateKeyPairSync('x25519').publicKey)).toBeUndefined()
  })
})
