// Self-signed certificates assembled byte by byte (DER), for inputs no certificate tool will produce: negative,
// zero-length or huge serials, undecodable extensions, garbage in the subject. Signed with a fresh P-256 key.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

/** A DER TLV with a definite length. */
export function tlv (tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const n = body.length
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts)
const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'))
const ECDSA_SHA256 = seq(oid('2a8648ce3d040302'))
const CN_OID = '550403'
const SAN_OID = '551d11'

/** A Name of one CN attribute whose value has the given ASN.1 string tag and raw bytes. */
export function nameDer (value: Buffer, stringTag = 0x0c): Buffer {
  return seq(tlv(0x31, seq(oid(CN_OID), tlv(stringTag, value))))
}

/** One extension: OID (hex of its body), criticality, and raw bytes inside the OCTET STRING. */
export function extensionDer (oidHex: string, value: Buffer, critical = false): Buffer {
  return seq(oid(oidHex), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value))
}

/** A subjectAltName extension whose bytes do not decode as GeneralNames. */
export const BROKEN_SAN = extensionDer(SAN_OID, Buffer.from('3003010100', 'hex'))

function utcTime (d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
  return tlv(0x17, Buffer.from(s, 'ascii'))
}

export interface CraftOptions {
  /** Content bytes of the serial INTEGER, as written (sign bit and all). */
  serial?: Buffer
  subject?: Buffer
  /** Issuer name; the subject (self-signed) unless told. */
  issuer?: Buffer
  extensions?: Buffer[]
}

export interface Crafted { certPem: string, keyPem: string, chainPem: string, der: Buffer }

function tbsOf (o: CraftOptions, publicKey: KeyObject, now: number): Buffer {
  const subject = o.subject ?? nameDer(Buffer.from('crafted'))
  const exts = o.extensions ?? []
  return seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, o.serial ?? Buffer.from([0x01, 0x23])),
    ECDSA_SHA256,
    o.issuer ?? subject,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86400_000))),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    ...(exts.length > 0 ? [tlv(0xa3, seq(...exts))] : [])
  )
}

const pemOf = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`

/** A self-signed v3 certificate (PEM, DER) and its key (PEM), with the given raw fields. */
export function craftCert (o: CraftOptions = {}, now = Date.now()): Crafted {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const tbs = tbsOf(o, publicKey, now)
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' })
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature))
  const certPem = pemOf(der)
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), chainPem: certPem, der }
}

/**
 * A certificate a TLS client can load (`sent`) and a same-length variant with `broken` fields that no client would
 * load (`wire`, signature not valid): swap `sent.der` for `wire` on the wire (see wire-swap.ts).
 */
export function craftWirePair (honest: CraftOptions, broken: CraftOptions): { sent: Crafted, wire: Buffer } {
  const now = Date.now()
  const sent = craftCert(honest, now)
  const publicKey = createPublicKey(sent.keyPem)
  const tbs = tbsOf({ ...honest, ...broken }, publicKey, now)
  const wire = Buffer.from(sent.der)
  const sentTbs = tbsOf(honest, publicKey, now)
  if (tbs.length !== sentTbs.length) throw new Error(`broken TBS is ${tbs.length} bytes, the honest one ${sentTbs.length}`)
  tbs.copy(wire, wire.indexOf(sentTbs))
  return { sent, wire }
}
