// Public-key parsing, normalisation and comparison: a device key is exactly one `PUBLIC KEY` PEM block holding
// canonical SPKI DER (what Mender's deviceauth accepts); every key is reduced to its SPKI DER bytes, so PEM wrapping
// and whitespace never decide equality; comparison is constant-time.
import { createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto'

export type DeviceKeyType = 'rsa' | 'ec' | 'ed25519'

// One block, nothing but ASCII whitespace around it; the BEGIN line ends the line, END starts one (as in Go's pem).
const PEM_BLOCK = /^-----BEGIN PUBLIC KEY-----[ \t]*\r?\n([A-Za-z0-9+/=\s]*?)-----END PUBLIC KEY-----$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The DER bytes of the single `PUBLIC KEY` block of `pem`; throws on anything else. */
function pemBlockDer (pem: string): Buffer {
  const m = PEM_BLOCK.exec(pem.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''))
  const body = m?.[1]
  // the body ends its last line before END; only ASCII whitespace may break it up
  if (body === undefined || (body !== '' && !body.endsWith('\n')) || /[^A-Za-z0-9+/=\t\r\n ]/.test(body)) {
    throw new TypeError('not exactly one PUBLIC KEY PEM block')
  }
  const b64 = body.replace(/[ \t\r\n]/g, '')
  if (b64 === '' || !BASE64.test(b64)) throw new TypeError('PEM body is not base64')
  return Buffer.from(b64, 'base64')
}

/**
 * Parses a device public key: exactly one `PUBLIC KEY` block (SPKI; PKCS#1 `RSA PUBLIC KEY`, private keys,
 * certificates, several blocks and surrounding text are refused) whose DER is canonical — no trailing bytes, an
 * uncompressed EC point, RSA with its NULL parameters — as Go's x509.ParsePKIXPublicKey demands. Throws otherwise.
 */
export function parsePublicKey (pem: string): KeyObject {
  const der = pemBlockDer(pem)
  const key = createPublicKey({ key: der, format: 'der', type: 'spki' })
  if (!canonicalDer(key).equals(der)) throw new TypeError('SPKI DER is not canonical')
  return key
}

/** The DER built from the key's own parameters (JWK round trip); plain re-export for types JWK cannot hold. */
function canonicalDer (key: KeyObject): Buffer {
  try {
    return spkiDer(createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' }))
  } catch {
    return spkiDer(key)
  }
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
