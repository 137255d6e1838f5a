// Just enough DER reading for what Node's X509Certificate does not expose: a certificate's outer signature
// algorithm and its extensions (OID, critical flag, value), keyUsage bits and extendedKeyUsage OIDs. Total: malformed
// input gives undefined, never a throw.

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

export interface Extension { oid: string, critical: boolean, value: Buffer }

/** The TLV items inside the constructed TLV `outer`. */
function children (buf: Buffer, outer: Tlv): Tlv[] | undefined {
  const out: Tlv[] = []
  let at = outer.start
  while (at < outer.end) {
    const t = tlvAt(buf, at)
    if (t === undefined || t.end > outer.end) return undefined
    out.push(t)
    at = t.end
  }
  return out
}

function extension (der: Buffer, ext: Tlv): Extension | undefined {
  const parts = children(der, ext)
  const [oid, second, third] = parts ?? []
  if (oid?.tag !== 0x06) return undefined
  const critical = second?.tag === 0x01 && der[second.start] !== 0x00
  const value = second?.tag === 0x04 ? second : third
  if (value?.tag !== 0x04) return undefined
  return { oid: oidText(der.subarray(oid.start, oid.end)), critical, value: der.subarray(value.start, value.end) }
}

/** The extensions of a DER certificate ([] when it has none; undefined when the DER does not parse). */
export function certificateExtensions (der: Buffer): Extension[] | undefined {
  const cert = tlvAt(der, 0)
  if (cert?.tag !== 0x30) return undefined
  const tbs = tlvAt(der, cert.start)
  if (tbs?.tag !== 0x30) return undefined
  const fields = children(der, tbs)
  if (fields === undefined) return undefined
  const wrapper = fields.find((f) => f.tag === 0xa3)
  if (wrapper === undefined) return []
  const list = tlvAt(der, wrapper.start)
  const items = list?.tag === 0x30 ? children(der, list) : undefined
  if (items === undefined) return undefined
  const out: Extension[] = []
  for (const item of items) {
    const e = item.tag === 0x30 ? extension(der, item) : undefined
    if (e === undefined) return undefined
    out.push(e)
  }
  return out
}

/**
 * Whether a keyUsage extension value (a BIT STRING) has bit `bit` set (0 = digitalSignature); undefined if
 * malformed.
 */
export function keyUsageBit (value: Buffer, bit: number): boolean | undefined {
  const bits = tlvAt(value, 0)
  if (bits?.tag !== 0x03 || bits.end - bits.start < 1) return undefined
  const byte = value[bits.start + 1 + Math.floor(bit / 8)] ?? 0
  return (byte & (0x80 >> (bit % 8))) !== 0
}

/** The OIDs of an extendedKeyUsage extension value (a SEQUENCE OF OID); undefined if malformed. */
export function extendedKeyUsages (value: Buffer): string[] | undefined {
  const seq = tlvAt(value, 0)
  const items = seq?.tag === 0x30 ? children(value, seq) : undefined
  if (items === undefined || items.some((i) => i.tag !== 0x06)) return undefined
  return items.map((i) => oidText(value.subarray(i.start, i.end)))
}

export interface AltNames { dns: string[], uri: string[], ip: string[], email: string[] }

/** An iPAddress GeneralName (4 or 16 bytes) in canonical text form; undefined for any other length. */
function ipText (bytes: Buffer): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.')
  if (bytes.length !== 16) return undefined
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  return canonicalIp(groups.join(':'))
}

/** The canonical text of an IP address (IPv6 compressed and lower-cased, as WHATWG URLs write hosts). */
export function canonicalIp (ip: string): string {
  if (!ip.includes(':')) return ip
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1)
  } catch {
    return ip.toLowerCase()
  }
}

/**
 * The subjectAltName values of a DER certificate, by type (an empty set when it has none); undefined when the
 * extension does not decode. Read from the DER, so a value can never be confused with a separator.
 */
export function subjectAltNames (der: Buffer): AltNames | undefined {
  const ext = certificateExtensions(der)?.find((e) => e.oid === '2.5.29.17')
  const out: AltNames = { dns: [], uri: [], ip: [], email: [] }
  if (ext === undefined) return certificateExtensions(der) === undefined ? undefined : out
  const seq = tlvAt(ext.value, 0)
  const names = seq?.tag === 0x30 ? children(ext.value, seq) : undefined
  if (names === undefined) return undefined
  for (const n of names) {
    const bytes = ext.value.subarray(n.start, n.end)
    if (n.tag === 0x82) out.dns.push(bytes.toString('latin1'))
    else if (n.tag === 0x86) out.uri.push(bytes.toString('latin1'))
    else if (n.tag === 0x81) out.email.push(bytes.toString('latin1'))
    else if (n.tag === 0x87) {
      const ip = ipText(bytes)
      if (ip === undefined) return undefined
      out.ip.push(ip)
    }
  }
  return out
}
