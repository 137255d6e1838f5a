// An independent PROXY protocol v2 decoder for the tests, written from HAProxy's proxy-protocol.txt (section 2.2)
// without the encoder's code: it checks every length and returns addresses as raw hex plus every TLV.
export interface DecodedTlv { type: number, value: Buffer }
export interface DecodedSsl { client: number, verify: number, subs: DecodedTlv[] }
export interface DecodedHeader {
  version: number
  command: number
  family: number
  transport: number
  /** Source and destination address bytes as hex (IPv4 4, IPv6 16, Unix 108 bytes each). */
  srcHex: string
  dstHex: string
  srcPort?: number
  dstPort?: number
  tlvs: DecodedTlv[]
  ssl?: DecodedSsl
  /** Bytes the header takes (16 + length). */
  size: number
}

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]

function readTlvs (buf: Buffer): DecodedTlv[] {
  const out: DecodedTlv[] = []
  let i = 0
  while (i < buf.length) {
    if (i + 3 > buf.length) throw new Error(`truncated TLV head at ${i}`)
    const type = buf[i] ?? 0
    const len = ((buf[i + 1] ?? 0) << 8) | (buf[i + 2] ?? 0)
    if (i + 3 + len > buf.length) throw new Error(`TLV 0x${type.toString(16)} overruns the header`)
    out.push({ type, value: buf.subarray(i + 3, i + 3 + len) })
    i += 3 + len
  }
  return out
}

function addressSize (family: number): number {
  if (family === 0x1) return 12
  if (family === 0x2) return 36
  if (family === 0x3) return 216
  return 0
}

export function decodeProxyV2 (buf: Buffer): DecodedHeader {
  if (buf.length < 16 || SIG.some((b, i) => buf[i] !== b)) throw new Error('no PROXY v2 signature')
  const vc = buf[12] ?? 0
  const ft = buf[13] ?? 0
  const len = buf.readUInt16BE(14)
  if (buf.length < 16 + len) throw new Error('header shorter than its length field')
  const body = buf.subarray(16, 16 + len)
  const family = ft >> 4
  const addrLen = (vc & 0xf) === 0 ? 0 : addressSize(family)
  if (addrLen > body.length) throw new Error('address block overruns the header')
  const half = family === 0x3 ? 108 : family === 0x2 ? 16 : 4
  const header: DecodedHeader = {
    version: vc >> 4,
    command: vc & 0xf,
    family,
    transport: ft & 0xf,
    srcHex: addrLen === 0 ? '' : body.subarray(0, half).toString('hex'),
    dstHex: addrLen === 0 ? '' : body.subarray(half, 2 * half).toString('hex'),
    tlvs: readTlvs(body.subarray(addrLen)),
    size: 16 + len
  }
  if (addrLen > 0 && family !== 0x3) {
    header.srcPort = body.readUInt16BE(2 * half)
    header.dstPort = body.readUInt16BE(2 * half + 2)
  }
  const ssl = header.tlvs.find((t) => t.type === 0x20)
  if (ssl !== undefined) {
    if (ssl.value.length < 5) throw new Error('SSL TLV shorter than its 5-byte head')
    header.ssl = { client: ssl.value[0] ?? 0, verify: ssl.value.readUInt32BE(1), subs: readTlvs(ssl.value.subarray(5)) }
  }
  return header
}

/** The value of the first TLV of `type` as text, or undefined. */
export function tlvText (tlvs: DecodedTlv[], type: number): string | undefined {
  return tlvs.find((t) => t.type === type)?.value.toString('utf8')
}
