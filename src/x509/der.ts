// Just enough DER reading to find a certificate's outer signature algorithm (Node 20's X509Certificate does not
// expose it); total: malformed input gives undefined.

interface Tlv { tag: number, start: number, end: number }

function tlvAt (buf: Buffer, at: number): Tlv | undefined {
  const tag = buf[at]
  const first = buf[at + 1]
  if (tag === undefined || first === undefined) return undefined
  let len = first
  let start = at + 2
  if (first >= 0x80) {
    const n = first & 0x7f
    if (n < 1 || n > 4 || at + 2 + n > buf.length) return undefined
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + (buf[at + 2 + i] ?? 0)
    start += n
  }
  const end = start + len
  return end <= buf.length ? { tag, start, end } : undefined
}

function oidText (bytes: Buffer): string {
  const parts: number[] = []
  let value = 0
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f)
    if ((b & 0x80) === 0) {
      parts.push(value)
      value = 0
    }
  }
  const head = parts.shift() ?? 0
  const first = head < 80 ? [Math.floor(head / 40), head % 40] : [2, head - 80]
  return [...first, ...parts].join('.')
}

/** The OID of the signatureAlgorithm of a DER certificate (`Certificate ::= SEQUENCE { tbs, algorithm, sig }`). */
export function signatureAlgorithmOid (der: Buffer): string | undefined {
  const cert = tlvAt(der, 0)
  if (cert?.tag !== 0x30) return undefined
  const tbs = tlvAt(der, cert.start)
  if (tbs?.tag !== 0x30) return undefined
  const alg = tlvAt(der, tbs.end)
  if (alg?.tag !== 0x30) return undefined
  const oid = tlvAt(der, alg.start)
  return oid?.tag === 0x06 && oid.end <= alg.end ? oidText(der.subarray(oid.start, oid.end)) : undefined
}
