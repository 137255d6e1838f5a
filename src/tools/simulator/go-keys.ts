// The simulator's own reading of device keys and signatures, as Mender's deviceauth does it: Go's pem.Decode (the
// first well-formed block, surrounding text ignored) of type PUBLIC KEY, x509.ParsePKIXPublicKey (RSA, ECDSA P-256 /
// P-384, Ed25519 here), and the X-MEN-Signature check over the raw body (RSA PKCS#1 v1.5, ECDSA ASN.1, SHA-256).
import { createPublicKey, verify, type KeyObject } from 'node:crypto'

export type SimKeyType = 'rsa' | 'ec' | 'ed25519'

export interface PemBlock { type: string, headers: Record<string, string>, bytes: Buffer }

/** Go's base64.StdEncoding.Decode: CR and LF skipped, padding required, nothing after it. */
export function goBase64 (text: string): Buffer | undefined {
  const s = text.replace(/[\r\n]/g, '')
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined
  return Buffer.from(s, 'base64')
}

/** Go's getLine: up to LF (a CR before it dropped), trailing spaces and tabs trimmed; [line, rest]. */
function getLine (data: string): [string, string] {
  const lf = data.indexOf('\n')
  const end = lf < 0 ? data.length : lf
  const line = data.slice(0, end > 0 && data[end - 1] === '\r' ? end - 1 : end)
  return [line.replace(/[ \t]+$/, ''), lf < 0 ? '' : data.slice(lf + 1)]
}

/** One attempt at a block right after a `-----BEGIN ` marker; undefined (and where Go searches on) if malformed. */
function blockAt (afterBegin: string): [PemBlock | undefined, string] {
  const [typeLine, afterType] = getLine(afterBegin)
  if (!typeLine.endsWith('-----')) return [undefined, afterType]
  const type = typeLine.slice(0, -5)
  const headers: Record<string, string> = {}
  let rest = afterType
  for (;;) {
    if (rest === '') return [undefined, rest]
    const [line, next] = getLine(rest)
    const colon = line.indexOf(':')
    if (colon < 0) break
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim()
    rest = next
  }
  // without headers the END line may follow at once; otherwise it starts a line
  const immediate = Object.keys(headers).length === 0 && rest.startsWith('-----END ')
  const endAt = immediate ? 0 : rest.indexOf('\n-----END ')
  if (endAt < 0) return [undefined, rest]
  const trailer = rest.slice(immediate ? '-----END '.length : endAt + '\n-----END '.length)
  if (!trailer.startsWith(`${type}-----`) || getLine(trailer.slice(type.length + 5))[0] !== '') return [undefined, rest]
  const bytes = goBase64(rest.slice(0, endAt).replace(/[ \t]/g, ''))
  return bytes === undefined ? [undefined, rest] : [{ type, headers, bytes }, '']
}

/** Go's pem.Decode: the first well-formed block anywhere in the text, or undefined. */
export function pemDecode (text: string): PemBlock | undefined {
  let rest = text
  for (;;) {
    if (rest.startsWith('-----BEGIN ')) rest = rest.slice('-----BEGIN '.length)
    else {
      const at = rest.indexOf('\n-----BEGIN ')
      if (at < 0) return undefined
      rest = rest.slice(at + '\n-----BEGIN '.length)
    }
    const [block, after] = blockAt(rest)
    if (block !== undefined) return block
    rest = after
  }
}

/** The key type the simulator accepts, undefined otherwise. */
export function simKeyType (key: KeyObject): SimKeyType | undefined {
  const t = key.asymmetricKeyType
  if (t === 'rsa' || t === 'ed25519') return t
  const curve = key.asymmetricKeyDetails?.namedCurve
  return t === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1') ? 'ec' : undefined
}

/** x509.ParsePKIXPublicKey: SPKI DER with nothing after it; EC points uncompressed (Go's elliptic.Unmarshal). */
export function parsePkix (der: Buffer): KeyObject | undefined {
  let key: KeyObject
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' })
  } catch {
    return undefined
  }
  if (!key.export({ type: 'spki', format: 'der' }).equals(der)) return undefined
  if (key.asymmetricKeyType === 'ec') {
    const jwk = key.export({ format: 'jwk' })
    const coordinate = (c: string | undefined): Buffer => Buffer.from(c ?? '', 'base64url')
    const point = Buffer.concat([Buffer.from([4]), coordinate(jwk.x), coordinate(jwk.y)])
    if (!der.subarray(der.length - point.length).equals(point)) return undefined
  }
  return key
}

/** Mender's utils.ParsePubKey: the first PEM block must be PUBLIC KEY and hold a key x509 can read. */
export function parseDevicePubkey (pem: string): KeyObject | undefined {
  const block = pemDecode(pem)
  return block?.type === 'PUBLIC KEY' ? parsePkix(block.bytes) : undefined
}

/** Mender's utils.VerifyAuthReqSign: standard base64 signature over the raw body. */
export function verifyAuthSignature (body: Buffer, signature: string, key: KeyObject): boolean {
  const sig = goBase64(signature)
  if (sig === undefined) return false
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, body, key, sig)
    return verify('sha256', body, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key, sig)
  } catch {
    return false
  }
}

/** The canonical SPKI PEM of a key (what Mender stores: SerializePubKey). */
export function spkiPemOf (key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString()
}
