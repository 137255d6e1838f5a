// Public-key normalisation and comparison: every key is reduced to its SPKI DER bytes, so PEM wrapping,
// whitespace, PKCS#1-vs-SPKI headers and key type never decide equality; comparison is constant-time.
import { createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto'

export type DeviceKeyType = 'rsa' | 'ec' | 'ed25519'

const PUBLIC_KEY_PEM = /^\s*-----BEGIN (RSA )?PUBLIC KEY-----/

/** Parses a PEM (SPKI or PKCS#1) public key; throws on anything else. */
export function parsePublicKey (pem: string): KeyObject {
  // createPublicKey would also derive a public key from a private key or a certificate: refuse those up front
  if (!PUBLIC_KEY_PEM.test(pem)) throw new TypeError('not a PEM public key')
  const key = createPublicKey({ key: pem, format: 'pem' })
  if (key.type !== 'public') throw new TypeError('not a public key')
  return key
}

/** SPKI DER encoding of a key: the canonical form Mender compares. */
export function spkiDer (key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' })
}

/** Canonical SPKI PEM of a key (what the ambassador sends to Mender). */
export function spkiPem (key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString()
}

/** Constant-time equality of two normalised keys (length is not secret). */
export function sameKey (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

const EC_CURVES = ['prime256v1', 'secp384r1']

/** The device key types the ambassador accepts; `undefined` for anything else. */
export function deviceKeyType (key: KeyObject): DeviceKeyType | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa': return 'rsa'
    case 'ed25519': return 'ed25519'
    // P-256 and P-384: what the Mender client signs with (ECDSA over SHA-256, DER) for any EC key
    case 'ec': return EC_CURVES.includes(key.asymmetricKeyDetails?.namedCurve ?? '') ? 'ec' : undefined
    default: return undefined
  }
}
