// Verification of the X-MEN-Signature header over the exact raw body bytes:
// RSA PKCS#1 v1.5 / SHA-256, ECDSA P-256 DER / SHA-256, Ed25519 over the raw body.
import { verify, type KeyObject } from 'node:crypto'

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** True when `signatureB64` is a valid signature of `body` by `key`. Never throws. */
export function verifyBodySignature (body: Buffer, signatureB64: string, key: KeyObject): boolean {
  const trimmed = signatureB64.trim()
  if (!BASE64.test(trimmed)) return false
  const signature = Buffer.from(trimmed, 'base64')
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  try {
    return verify(algorithm, body, { key, dsaEncoding: 'der' }, signature)
  } catch {
    return false
  }
}
