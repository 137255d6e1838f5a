// Certificate revocation lists: issuing a signed CRL (v2, AKI + CRL number) and reading the serials of one.
import { x509 } from '../../x509/peculiar.js'
import { signingAlgorithm } from './keys.js'
import { keyIdOf } from './extensions.js'
import { normalizeSerial } from '../../x509/serial.js'
import type { Ca, CrlOptions } from './types.js'

const CRL_NUMBER_OID = '2.5.29.20'
const DEFAULT_CRL_DAYS = 30

/** DER INTEGER of a non-negative safe integer. */
function derInteger (n: number): ArrayBuffer {
  let hex = Math.trunc(n).toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = '00' + hex
  const body = Buffer.from(hex, 'hex')
  return Uint8Array.from([0x02, body.length, ...body]).buffer
}

/** Issues a CRL signed by `ca` listing `revokedSerials`; returns PEM (`-----BEGIN X509 CRL-----`). */
export async function issueCrl (ca: Ca, o: CrlOptions): Promise<string> {
  const thisUpdate = o.thisUpdate ?? new Date()
  const nextUpdate = o.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_CRL_DAYS * 24 * 3600 * 1000)
  const crlNumber = o.crlNumber ?? Math.floor(thisUpdate.getTime() / 1000)
  const serials = [...new Set(o.revokedSerials.map(normalizeSerial))]
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: ca.privateKey,
    signingAlgorithm: signingAlgorithm(ca.keyType),
    extensions: [
      new x509.AuthorityKeyIdentifierExtension(await keyIdOf(ca.cert)),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(crlNumber))
    ],
    entries: serials.map((serialNumber) => ({ serialNumber: evenHex(serialNumber), revocationDate: thisUpdate }))
  })
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n'
}

/** Serials (normal form) listed in a CRL PEM or DER. */
export function crlSerials (crl: string | Uint8Array): string[] {
  const parsed = new x509.X509Crl(typeof crl === 'string' ? crl : Uint8Array.from(crl).buffer)
  return parsed.entries.map((e) => normalizeSerial(e.serialNumber))
}

/** Hex with an even number of digits and a clear top bit, as a DER INTEGER body wants it. */
function evenHex (serial: string): string {
  const padded = serial.length % 2 === 1 ? '0' + serial : serial
  return parseInt(padded.slice(0, 2), 16) >= 0x80 ? '00' + padded : padded
}
