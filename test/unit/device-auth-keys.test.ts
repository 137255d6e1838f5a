// Unit tests of public-key parsing, normalisation and comparison.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { deviceKeyType, parsePublicKey, sameKey, spkiDer, spkiPem } from '../../src/device-auth/keys.js'

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

  it('parses a PKCS#1 RSA public key', () => {
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    expect(parsePublicKey(pkcs1).asymmetricKeyType).toBe('rsa')
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

  it('treats a PKCS#1 RSA key as equal to its SPKI form', () => {
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    expect(sameKey(der(pkcs1), der(pemOf(rsa.publicKey)))).toBe(true)
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
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    const pem = spkiPem(parsePublicKey(pkcs1))
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
