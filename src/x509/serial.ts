// Certificate serial numbers: random positive 16-byte serials, and the one normal form used by denylists and CRLs
// (strict for operator input, total for what a peer's certificate says).
import { randomBytes } from 'node:crypto'

/** A random 128-bit serial as hex; the top bit is clear (positive) and the next set (no leading zero byte). */
export function randomSerialHex (): string {
  const bytes = randomBytes(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40
  return bytes.toString('hex')
}

/**
 * Normal form of a serial number: lowercase hex without separators, `0x` prefix or leading zeros.
 * Accepts `AB:CD:EF`, `0xabcdef`, `00ABCDEF`; throws on anything that is not hex.
 */
export function normalizeSerial (serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '')
  if (!/^[0-9a-f]+$/.test(hex)) throw new TypeError(`not a hex serial number: ${JSON.stringify(serial)}`)
  return hex.replace(/^0+(?=.)/, '')
}

/**
 * Normal form of the serial of a certificate a peer presented (Node's `serialNumber`, upper-case hex), or undefined
 * when it is not a positive hex number (RFC 5280 wants positive serials; Node writes negative ones as `-05`). Never
 * throws: peer input decides a refusal, not an exception.
 */
export function peerSerial (serialNumber: unknown): string | undefined {
  if (typeof serialNumber !== 'string' || !/^[0-9A-Fa-f]+$/.test(serialNumber)) return undefined
  return serialNumber.toLowerCase().replace(/^0+(?=.)/, '')
}
