// Revocation data checked in JS on every connection (resumed sessions included): a serial denylist (hex serials,
// one per line, Mender gateway format) and CRLs (PEM or DER) whose signature is verified against a tenant CA.
import { readFileSync } from 'node:fs'
import type { X509Certificate } from 'node:crypto'
import { normalizeSerial, peerSerial } from '../x509/serial.js'
import { pemBlocks } from '../x509/pem.js'

export interface CrlInfo {
  source: string
  /** The tenant CA that signed it (the issuer of the certificates it covers). */
  issuer: X509Certificate
  serials: Set<string>
  thisUpdate: Date
  nextUpdate: Date | undefined
}

/** Reads a denylist file: one hex serial per line (`AB:CD`, `0xabcd`, `abcd`), `#` comments and blanks ignored. */
export function loadDenylist (path: string): Set<string> {
  const out = new Set<string>()
  readFileSync(path, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    try {
      out.add(normalizeSerial(line))
    } catch {
      throw new Error(`${path}:${i + 1}: not a hex serial number`)
    }
  })
  return out
}

/** The DER of a CRL file: one whole `X509 CRL` PEM block (see pem.ts), or the bytes themselves when not PEM. */
function crlDer (source: string, raw: Buffer): Buffer {
  const text = raw.toString('latin1')
  if (!text.includes('-----BEGIN') && !text.includes('-----END')) return raw
  const blocks = pemBlocks(text, source)
  if (blocks.length !== 1 || blocks[0]?.label !== 'X509 CRL') {
    throw new Error(`${source}: expected one X509 CRL PEM block`)
  }
  return blocks[0].der
}

type X509 = typeof import('../x509/peculiar.js')['x509']

/** @peculiar/x509 (and reflect-metadata) cost ≈200 ms of startup: loaded only once a CRL is to be read. */
const peculiar = async (): Promise<X509> => (await import('../x509/peculiar.js')).x509

function parseCrl (x509: X509, source: string, raw: Buffer): InstanceType<X509['X509Crl']> {
  const der = crlDer(source, raw)
  try {
    return new x509.X509Crl(Uint8Array.from(der).buffer)
  } catch (err) {
    throw new Error(`${source}: not a CRL (${(err as Error).message})`)
  }
}

/** Loads a CRL file, or bytes fetched from `source`, and finds the CA in `cas` whose key signed it; throws when none
 * did (never trust an unsigned list). */
export async function loadCrl (source: string, cas: X509Certificate[], bytes?: Buffer): Promise<CrlInfo> {
  const x509 = await peculiar()
  const crl = parseCrl(x509, source, bytes ?? readFileSync(source))
  for (const ca of cas) {
    const publicKey = new x509.PublicKey(Uint8Array.from(ca.publicKey.export({ type: 'spki', format: 'der' })).buffer)
    if (await crl.verify({ publicKey }).catch(() => false)) {
      return {
        source,
        issuer: ca,
        serials: new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber))),
        thisUpdate: crl.thisUpdate,
        nextUpdate: crl.nextUpdate
      }
    }
  }
  throw new Error(`${source}: not signed by any tenant CA`)
}

export type RevocationVerdict =
  | { ok: true, staleCrl?: CrlInfo }
  | { ok: false, reason: 'denylisted' | 'crl' | 'crl_stale', crl?: CrlInfo }

/**
 * Checks a leaf against the denylist, then the leaf and every intermediate the device sent against the CRL of its
 * issuer: revoking an intermediate in its root's CRL cuts off every device below it.
 */
export function checkRevocation (
  leaf: X509Certificate, serial: string, denylist: Set<string>, crls: CrlInfo[], stalePolicy: 'refuse' | 'keep',
  now = Date.now(), intermediates: X509Certificate[] = []
): RevocationVerdict {
  if (denylist.has(serial)) return { ok: false, reason: 'denylisted' }
  let staleCrl: CrlInfo | undefined
  for (const cert of [leaf, ...intermediates]) {
    // OpenSSL verified the chain's signatures (and session tickets rotate with trust), so the issuer match suffices
    const crl = crls.find((c) => cert.checkIssued(c.issuer))
    if (crl === undefined) continue
    // a serial that does not read cannot be shown absent from the CRL: refused (the guard refuses such chains earlier)
    const serialOfCert = cert === leaf ? serial : peerSerial(cert.serialNumber)
    if (serialOfCert === undefined || crl.serials.has(serialOfCert)) return { ok: false, reason: 'crl', crl }
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now) {
      if (stalePolicy === 'refuse') return { ok: false, reason: 'crl_stale', crl }
      staleCrl ??= crl
    }
  }
  return staleCrl === undefined ? { ok: true } : { ok: true, staleCrl }
}
