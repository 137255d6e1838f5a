// Unit tests of X-MEN-Signature verification over the raw body bytes.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyBodySignature } from '../../src/gateway/device-auth/signature.js'

type Pair = { publicKey: KeyObject, privateKey: KeyObject }
let rsa: Pair
let ec: Pair
let ed: Pair

beforeAll(() => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ed = generateKeyPairSync('ed25519')
})

const BODY = Buffer.from('{"id_data":"{\\"mac\\":\\"02:00:00:00:00:01\\"}","pubkey":"…","tenant_token":""}')

function signB64 (body: Buffer, pair: Pair, dsaEncoding: 'der' | 'ieee-p1363' = 'der'): string {
  const algorithm = pair.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  return sign(algorithm, body, { key: pair.privateKey, dsaEncoding }).toString('base64')
}

function flipped (body: Buffer, index: number): Buffer {
  const copy = Buffer.from(body)
  copy[index] = (copy[index] ?? 0) ^ 0x01
  return copy
}

describe('verifyBodySignature', () => {
  it('accepts an RSA PKCS#1 v1.5 SHA-256 signature', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, rsa), rsa.publicKey)).toBe(true)
  })

  it('accepts an ECDSA P-256 DER signature', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, ec), ec.publicKey)).toBe(true)
  })

  it('accepts an Ed25519 signature', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, ed), ed.publicKey)).toBe(true)
  })

  it('accepts a signature with surrounding whitespace', () => {
    expect(verifyBodySignature(BODY, ` ${signB64(BODY, ec)}\n`, ec.publicKey)).toBe(true)
  })

  it.each([['rsa'], ['ec'], ['ed25519']])('refuses a %s signature when one body byte is flipped', (type) => {
    const pair = type === 'rsa' ? rsa : type === 'ec' ? ec : ed
    expect(verifyBodySignature(flipped(BODY, 10), signB64(BODY, pair), pair.publicKey)).toBe(false)
  })

  it('refuses a signature over a re-serialised body', () => {
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 1))
    expect(verifyBodySignature(reformatted, signB64(BODY, ec), ec.publicKey)).toBe(false)
  })

  it('refuses a signature made by another key of the same type', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(verifyBodySignature(BODY, signB64(BODY, other), ec.publicKey)).toBe(false)
  })

  it('refuses an RSA signature checked with an EC key', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, rsa), ec.publicKey)).toBe(false)
  })

  it('refuses an ECDSA signature in IEEE-P1363 (r||s) form', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, ec, 'ieee-p1363'), ec.publicKey)).toBe(false)
  })

  it('refuses a signature whose bytes were changed', () => {
    const sig = Buffer.from(signB64(BODY, rsa), 'base64')
    expect(verifyBodySignature(BODY, flipped(sig, 20).toString('base64'), rsa.publicKey)).toBe(false)
  })

  it.each(['', '!!!notbase64!!!', 'abc def', '====', 'a=b', 'ab-_cd=='])('refuses the garbage signature %j', (sig) => {
    expect(verifyBodySignature(BODY, sig, ec.publicKey)).toBe(false)
  })

  it('refuses a truncated Ed25519 signature without throwing', () => {
    expect(verifyBodySignature(BODY, signB64(BODY, ed).slice(0, 40), ed.publicKey)).toBe(false)
  })
})
