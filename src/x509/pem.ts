// The one PEM scanner for every PEM file the trust loads (server chain, CA bundles, CRLs): every block must be
// whole (BEGIN and END with the same label), base64, and parse; anything else is an error naming the file. Text
// outside blocks (comments, `openssl x509 -text` output) is allowed.
import { X509Certificate } from 'node:crypto'

export interface PemBlock { label: string, der: Buffer, line: number }

const BEGIN = /^-----BEGIN ([A-Z0-9][A-Z0-9 ]*)-----$/
const END = /^-----END ([A-Z0-9][A-Z0-9 ]*)-----$/
const BASE64_LINE = /^[A-Za-z0-9+/=]*$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function decode (source: string, label: string, line: number, lines: string[]): Buffer {
  const b64 = lines.join('')
  if (!lines.every((l) => BASE64_LINE.test(l)) || !BASE64.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
    throw new Error(`${source}: the ${label} block on line ${line} is not base64`)
  }
  return Buffer.from(b64, 'base64')
}

/** Every PEM block of `text`; throws (naming `source` and the line) on a block that is not whole or not base64. */
export function pemBlocks (text: string, source: string): PemBlock[] {
  const out: PemBlock[] = []
  let open: { label: string, line: number, body: string[] } | undefined
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    const n = i + 1
    const begin = BEGIN.exec(line)
    const end = END.exec(line)
    const at = `${source}:${n}`
    if (begin === null && end === null && /-----(BEGIN|END)/.test(line)) throw new Error(`${at}: bad PEM boundary`)
    if (begin !== null) {
      if (open !== undefined) {
        throw new Error(`${at}: BEGIN ${begin[1]} inside the ${open.label} block of line ${open.line} (no END)`)
      }
      open = { label: begin[1] ?? '', line: n, body: [] }
    } else if (end !== null) {
      if (open === undefined) throw new Error(`${at}: END ${end[1]} without a BEGIN`)
      if (end[1] !== open.label) {
        throw new Error(`${at}: END ${end[1]} closes the ${open.label} block of line ${open.line}`)
      }
      out.push({ label: open.label, der: decode(source, open.label, open.line, open.body), line: open.line })
      open = undefined
    } else if (open !== undefined) {
      open.body.push(line)
    }
  }
  if (open !== undefined) {
    throw new Error(`${source}:${open.line}: BEGIN ${open.label} without its END (file cut short?)`)
  }
  return out
}

/** The certificates of a PEM file: every block must be a CERTIFICATE whose DER parses exactly (no bytes after it). */
export function pemCertificates (text: string, source: string): X509Certificate[] {
  return pemBlocks(text, source).map((b) => {
    if (b.label !== 'CERTIFICATE') {
      throw new Error(`${source}:${b.line}: a ${b.label} block where only certificates belong`)
    }
    let cert: X509Certificate
    try {
      cert = new X509Certificate(b.der)
    } catch (err) {
      throw new Error(`${source}:${b.line}: certificate does not parse (${(err as Error).message})`)
    }
    if (cert.raw.length !== b.der.length) throw new Error(`${source}:${b.line}: bytes after the certificate`)
    return cert
  })
}
