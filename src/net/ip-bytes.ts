// Binary forms the PROXY protocol header needs: IPv4/IPv6 text to network-order bytes (Node has no inet_pton), the
// IPv4-mapped IPv6 normalisation, and CRC-32C (Castagnoli), which PP2_TYPE_CRC32C uses.
import { isIP } from 'node:net'

/** '1.2.3.4' from '::ffff:1.2.3.4' (what dual-stack sockets report), the address itself otherwise; zone ids dropped. */
export function normalizeIp (host: string): string {
  const noZone = host.includes('%') ? host.slice(0, host.indexOf('%')) : host
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(noZone)
  return mapped?.[1] !== undefined && isIP(mapped[1]) === 4 ? mapped[1] : noZone
}

function ipv4Bytes (host: string): Buffer {
  return Buffer.from(host.split('.').map(Number))
}

/** 16 bytes of an IPv6 address (already checked with isIP); an IPv4 address becomes ::ffff:a.b.c.d. */
export function ipv6Bytes (host: string): Buffer {
  if (isIP(host) === 4) return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), ipv4Bytes(host)])
  // an embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes its two hex words
  const word = (hi: string, lo: string): string => ((Number(hi) << 8) | Number(lo)).toString(16)
  const text = host.replace(/(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/,
    (_m, a: string, b: string, c: string, d: string) => `${word(a, b)}:${word(c, d)}`)
  const halves = text.split('::')
  const words = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((w) => parseInt(w, 16))
  const left = words(halves[0])
  const right = words(halves[1])
  const zeros = halves.length === 2 ? 8 - left.length - right.length : 0
  const all = [...left, ...Array<number>(Math.max(0, zeros)).fill(0), ...right]
  const out = Buffer.alloc(16)
  all.slice(0, 8).forEach((w, i) => out.writeUInt16BE(w & 0xffff, i * 2))
  return out
}

export function ipBytes (host: string): Buffer {
  return isIP(host) === 4 ? ipv4Bytes(host) : ipv6Bytes(host)
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32C of `data` (reflected, init and final xor 0xFFFFFFFF); crc32c('123456789') is 0xE3069283. */
export function crc32c (data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
