// PROXY protocol v2 header encoder (HAProxy's proxy-protocol.txt): signature, PROXY/LOCAL command, TCP over IPv4 or
// IPv6 or a Unix stream socket, and TLVs (ALPN, authority, unique id, CRC-32C, SSL with its sub-TLVs, and the
// ambassador's own TLVs in the custom range 0xE0-0xEF). Returns a problem instead of throwing on bad input.
import { isIP } from 'node:net'
import type { Parsed, TcpAddress, UnixAddress } from './address.js'
import { crc32c, ipBytes, ipv6Bytes, normalizeIp } from './ip-bytes.js'

export const PP2 = {
  TYPE_ALPN: 0x01,
  TYPE_AUTHORITY: 0x02,
  TYPE_CRC32C: 0x03,
  TYPE_UNIQUE_ID: 0x05,
  TYPE_SSL: 0x20,
  SUBTYPE_SSL_VERSION: 0x21,
  SUBTYPE_SSL_CN: 0x22,
  SUBTYPE_SSL_CIPHER: 0x23,
  SUBTYPE_SSL_SIG_ALG: 0x24,
  SUBTYPE_SSL_KEY_ALG: 0x25,
  CLIENT_SSL: 0x01,
  CLIENT_CERT_CONN: 0x02,
  CLIENT_CERT_SESS: 0x04
} as const

/** The ambassador's application TLVs (custom range 0xE0-0xEF). */
export const MTLS_TLV = {
  /** SHA-256 of the client certificate's SubjectPublicKeyInfo (DER), 32 raw bytes. */
  SPKI_SHA256: 0xe0,
  /** One URI subject alternative name of the client certificate (e.g. a SPIFFE id), UTF-8. */
  SAN_URI: 0xe1
} as const

export const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex')
const UNIQUE_ID_MAX = 128
const UNIX_FIELD = 108

export type ProxyEndpoint = TcpAddress | UnixAddress
export interface Tlv { type: number, value: Buffer }

export interface ProxySsl {
  /** A client certificate was presented on this connection (PP2_CLIENT_CERT_CONN). */
  certOnConnection: boolean
  /** A client certificate was presented in this TLS session, possibly an earlier resumed one (PP2_CLIENT_CERT_SESS). */
  certInSession: boolean
  /** The client certificate was verified: verify field 0; anything else sends 1. */
  verified: boolean
  version?: string
  cn?: string
  cipher?: string
  sigAlg?: string
  keyAlg?: string
}

export interface ProxyHeaderInput {
  /** 'LOCAL' (health checks: no addresses) or 'PROXY' (default; needs source and destination of one family). */
  command?: 'PROXY' | 'LOCAL'
  source?: ProxyEndpoint
  destination?: ProxyEndpoint
  alpn?: string
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (SNI). */
  authority?: string
  uniqueId?: string | Buffer
  ssl?: ProxySsl
  /** Further TLVs, types 0xE0-0xEF only (see MTLS_TLV and mtlsTlvs). */
  custom?: Tlv[]
  /** Adds PP2_TYPE_CRC32C over the whole header, which receivers such as HAProxy verify. */
  crc32c?: boolean
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem })

function tlv (type: number, value: Buffer): Buffer {
  const head = Buffer.from([type, value.length >> 8, value.length & 0xff])
  return Buffer.concat([head, value])
}

function text (name: string, value: string | Buffer | undefined, max = 0xffff): Parsed<Buffer | undefined> {
  if (value === undefined) return ok(undefined)
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  if (bytes.length === 0) return bad(`${name} is empty`)
  if (bytes.length > max) return bad(`${name} is ${bytes.length} bytes; the limit is ${max}`)
  return ok(bytes)
}

/** Address block and family/transport byte; IPv4-mapped IPv6 is unmapped, mixed families become IPv6. */
function addresses (src: ProxyEndpoint, dst: ProxyEndpoint): Parsed<{ family: number, block: Buffer }> {
  if (src.kind === 'unix' || dst.kind === 'unix') {
    if (src.kind !== 'unix' || dst.kind !== 'unix') return bad('source and destination must both be TCP or both Unix')
    const block = Buffer.alloc(2 * UNIX_FIELD)
    for (const [i, path] of [src.path, dst.path].entries()) {
      const bytes = Buffer.from(path, 'utf8')
      if (bytes.length > UNIX_FIELD) return bad(`unix path is ${bytes.length} bytes; the field holds ${UNIX_FIELD}`)
      bytes.copy(block, i * UNIX_FIELD)
    }
    return ok({ family: 0x31, block })
  }
  const [s, d] = [normalizeIp(src.host), normalizeIp(dst.host)]
  for (const [host, port] of [[s, src.port], [d, dst.port]] as const) {
    if (isIP(host) === 0) return bad(`'${host}' is not an IP address`)
    if (!Number.isInteger(port) || port < 0 || port > 65535) return bad(`port ${port} is out of range`)
  }
  const v4 = isIP(s) === 4 && isIP(d) === 4
  const ports = Buffer.alloc(4)
  ports.writeUInt16BE(src.port, 0)
  ports.writeUInt16BE(dst.port, 2)
  const ips = v4 ? [ipBytes(s), ipBytes(d)] : [ipv6Bytes(s), ipv6Bytes(d)]
  return ok({ family: v4 ? 0x11 : 0x21, block: Buffer.concat([...ips, ports]) })
}

function sslTlv (ssl: ProxySsl): Parsed<Buffer> {
  if (ssl.verified && !ssl.certOnConnection && !ssl.certInSession) {
    return bad('ssl.verified needs a client certificate (certOnConnection or certInSession)')
  }
  const flags = PP2.CLIENT_SSL | (ssl.certOnConnection ? PP2.CLIENT_CERT_CONN : 0) |
    (ssl.certInSession ? PP2.CLIENT_CERT_SESS : 0)
  const head = Buffer.from([flags, 0, 0, 0, ssl.verified ? 0 : 1])
  const subs: Buffer[] = []
  // HAProxy's order (any order is valid; this one makes our header byte-identical to HAProxy's for the same facts)
  const fields = [
    ['ssl.version', ssl.version, PP2.SUBTYPE_SSL_VERSION], ['ssl.cn', ssl.cn, PP2.SUBTYPE_SSL_CN],
    ['ssl.keyAlg', ssl.keyAlg, PP2.SUBTYPE_SSL_KEY_ALG], ['ssl.sigAlg', ssl.sigAlg, PP2.SUBTYPE_SSL_SIG_ALG],
    ['ssl.cipher', ssl.cipher, PP2.SUBTYPE_SSL_CIPHER]
  ] as const
  for (const [name, value, type] of fields) {
    const bytes = text(name, value)
    if (!bytes.ok) return bytes
    if (bytes.value !== undefined) subs.push(tlv(type, bytes.value))
  }
  return ok(Buffer.concat([head, ...subs]))
}

/** The TLVs in HAProxy's order: (CRC32C,) ALPN, AUTHORITY, UNIQUE_ID, SSL, then the custom ones. */
function tlvs (input: ProxyHeaderInput): Parsed<Buffer[]> {
  const out: Buffer[] = []
  const simple = [
    ['alpn', input.alpn, PP2.TYPE_ALPN, 0xffff], ['authority', input.authority, PP2.TYPE_AUTHORITY, 0xffff],
    ['uniqueId', input.uniqueId, PP2.TYPE_UNIQUE_ID, UNIQUE_ID_MAX]
  ] as const
  for (const [name, value, type, max] of simple) {
    const bytes = text(name, value, max)
    if (!bytes.ok) return bytes
    if (bytes.value !== undefined) out.push(tlv(type, bytes.value))
  }
  if (input.ssl !== undefined) {
    const ssl = sslTlv(input.ssl)
    if (!ssl.ok) return ssl
    out.push(tlv(PP2.TYPE_SSL, ssl.value))
  }
  for (const t of input.custom ?? []) {
    if (!Number.isInteger(t.type) || t.type < 0xe0 || t.type > 0xef) {
      return bad(`TLV type ${t.type} is outside 0xE0-0xEF`)
    }
    if (t.value.length > 0xffff) return bad(`TLV 0x${t.type.toString(16)} is longer than 65535 bytes`)
    out.push(tlv(t.type, t.value))
  }
  return ok(out)
}

/** A complete PROXY v2 header to write before the first byte of the proxied stream. */
export function proxyV2Header (input: ProxyHeaderInput): Parsed<Buffer> {
  const local = input.command === 'LOCAL'
  let family = 0x00
  let block: Buffer = Buffer.alloc(0)
  if (!local) {
    if (input.source === undefined || input.destination === undefined) {
      return bad('PROXY needs a source and a destination')
    }
    const a = addresses(input.source, input.destination)
    if (!a.ok) return a
    ;({ family, block } = a.value)
  }
  const list = tlvs(input)
  if (!list.ok) return list
  const crc = input.crc32c === true ? [tlv(PP2.TYPE_CRC32C, Buffer.alloc(4))] : []
  const body = Buffer.concat([block, ...crc, ...list.value])
  if (body.length > 0xffff) return bad(`header body is ${body.length} bytes; the limit is 65535`)
  const versionCommand = local ? 0x20 : 0x21
  const head = Buffer.concat([SIGNATURE, Buffer.from([versionCommand, family, body.length >> 8, body.length & 0xff])])
  const header = Buffer.concat([head, body])
  if (crc.length > 0) header.writeUInt32BE(crc32c(header), 16 + block.length + 3)
  return ok(header)
}

/** The ambassador's TLVs for a client certificate: its SPKI SHA-256 (32 bytes) and a URI SAN. */
export function mtlsTlvs (cert: { spkiSha256?: Buffer, sanUri?: string }): Parsed<Tlv[]> {
  const out: Tlv[] = []
  if (cert.spkiSha256 !== undefined) {
    if (cert.spkiSha256.length !== 32) return bad(`spkiSha256 is ${cert.spkiSha256.length} bytes, not 32`)
    out.push({ type: MTLS_TLV.SPKI_SHA256, value: cert.spkiSha256 })
  }
  if (cert.sanUri !== undefined) {
    const bytes = text('sanUri', cert.sanUri)
    if (!bytes.ok) return bytes
    if (bytes.value !== undefined) out.push({ type: MTLS_TLV.SAN_URI, value: bytes.value })
  }
  return ok(out)
}
