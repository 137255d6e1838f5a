// The PROXY protocol v2 encoder, read back with the tests' own decoder (written from the spec): exact bytes of a
// known header, every address family, each TLV and SSL sub-TLV, the CRC-32C, and a problem for each bad input.
import { describe, expect, it } from 'vitest'
import { crc32c } from '../../src/net/ip-bytes.js'
import {
  MTLS_TLV, mtlsTlvs, proxyV2Header, type ProxyEndpoint, type ProxyHeaderInput
} from '../../src/net/proxy-protocol.js'
import { decodeProxyV2, tlvText } from '../support/proxy-v2-decoder.js'

const tcp = (host: string, port: number): ProxyEndpoint => ({ kind: 'tcp', host, port })
const unix = (path: string): ProxyEndpoint => ({ kind: 'unix', path })
const v4 = { source: tcp('192.0.2.1', 1234), destination: tcp('198.51.100.2', 443) }

function header (input: ProxyHeaderInput): Buffer {
  const r = proxyV2Header(input)
  if (!r.ok) throw new Error(r.problem)
  return r.value
}
function problem (input: ProxyHeaderInput): string {
  const r = proxyV2Header(input)
  return r.ok ? 'accepted' : r.problem
}
/** Bitwise CRC-32C, independent of the table-driven one in src. */
function crc32cSlow (data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = (crc & 1) !== 0 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

describe('proxyV2Header', () => {
  it('writes the spec layout byte for byte for TCP over IPv4', () => {
    expect(header(v4).toString('hex'))
      .toBe('0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + 'c0000201' + 'c6336402' + '04d2' + '01bb')
  })

  it('uses IPv6 for IPv6 peers and for mixed families, and unmaps IPv4-mapped addresses to IPv4', () => {
    const six = decodeProxyV2(header({ source: tcp('2001:db8::1', 1), destination: tcp('10.0.0.1', 2) }))
    expect([six.family, six.transport, six.srcHex, six.dstHex, six.srcPort, six.dstPort]).toEqual([
      2, 1, '20010db8000000000000000000000001', '00000000000000000000ffff0a000001', 1, 2
    ])
    const mapped = decodeProxyV2(header({ source: tcp('::ffff:127.0.0.1', 3), destination: tcp('127.0.0.1', 4) }))
    expect([mapped.family, mapped.srcHex, mapped.dstHex]).toEqual([1, '7f000001', '7f000001'])
    const zoned = decodeProxyV2(header({ source: tcp('fe80::1%eth0', 5), destination: tcp('fe80::2', 6) }))
    expect(zoned.srcHex).toBe('fe800000000000000000000000000001')
  })

  it('writes Unix stream addresses as two NUL-padded 108-byte fields, and LOCAL with no address', () => {
    const u = decodeProxyV2(header({ source: unix('/run/a'), destination: unix('/run/b') }))
    expect([u.family, u.transport, u.size]).toEqual([3, 1, 16 + 216])
    expect(Buffer.from(u.srcHex, 'hex').toString('latin1').replace(/\0+$/, '')).toBe('/run/a')
    expect(Buffer.from(u.dstHex, 'hex').toString('latin1').replace(/\0+$/, '')).toBe('/run/b')
    const local = decodeProxyV2(header({ command: 'LOCAL', authority: 'x' }))
    expect([local.version, local.command, local.family, local.srcHex, tlvText(local.tlvs, 0x02)])
      .toEqual([2, 0, 0, '', 'x'])
  })

  it('carries ALPN, authority, unique id, the SSL TLV with flags, verify and sub-TLVs, and custom TLVs', () => {
    const spki = Buffer.alloc(32, 0xab)
    const ours = mtlsTlvs({ spkiSha256: spki, sanUri: 'spiffe://example.org/device/42' })
    if (!ours.ok) throw new Error(ours.problem)
    const d = decodeProxyV2(header({
      ...v4,
      alpn: 'dbus',
      authority: 'gateway.example',
      uniqueId: Buffer.from('c0ffee', 'hex'),
      ssl: {
        certOnConnection: true,
        certInSession: true,
        verified: true,
        version: 'TLSv1.3',
        cn: 'device-42',
        cipher: 'TLS_AES_256_GCM_SHA384',
        sigAlg: 'ecdsa-with-SHA256',
        keyAlg: 'EC256'
      },
      custom: ours.value
    }))
    expect(d.tlvs.map((t) => t.type)).toEqual([0x01, 0x02, 0x05, 0x20, 0xe0, 0xe1])
    expect([tlvText(d.tlvs, 0x01), tlvText(d.tlvs, 0x02)]).toEqual(['dbus', 'gateway.example'])
    expect(d.tlvs.find((t) => t.type === 0x05)?.value.toString('hex')).toBe('c0ffee')
    expect(d.ssl).toMatchObject({ client: 0x07, verify: 0 })
    expect(d.ssl?.subs.map((t) => [t.type, t.value.toString()])).toEqual([
      [0x21, 'TLSv1.3'], [0x22, 'device-42'], [0x25, 'EC256'], [0x24, 'ecdsa-with-SHA256'],
      [0x23, 'TLS_AES_256_GCM_SHA384']
    ])
    expect(d.tlvs.find((t) => t.type === MTLS_TLV.SPKI_SHA256)?.value).toEqual(spki)
    expect(tlvText(d.tlvs, MTLS_TLV.SAN_URI)).toBe('spiffe://example.org/device/42')
  })

  it('sets verify non-zero and only PP2_CLIENT_SSL without a verified client certificate', () => {
    const d = decodeProxyV2(header({ ...v4, ssl: { certOnConnection: false, certInSession: false, verified: false } }))
    expect(d.ssl).toEqual({ client: 0x01, verify: 1, subs: [] })
  })

  it('puts a CRC-32C first that covers the whole header with its own field zeroed', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
    const ssl = { certOnConnection: true, certInSession: false, verified: true, cn: 'x' }
    const h = header({ ...v4, authority: 'a', crc32c: true, ssl })
    const d = decodeProxyV2(h)
    expect(d.tlvs[0]?.type).toBe(0x03)
    const stored = d.tlvs[0]?.value.readUInt32BE(0)
    const zeroed = Buffer.from(h)
    zeroed.fill(0, 16 + 12 + 3, 16 + 12 + 7)
    expect(stored).toBe(crc32cSlow(zeroed))
  })

  it.each([
    ['PROXY needs a source and a destination', {}],
    ['must both be TCP or both Unix', { source: v4.source, destination: unix('/x') }],
    ["'example.com' is not an IP address", { source: tcp('example.com', 1), destination: v4.destination }],
    ['port 70000 is out of range', { source: tcp('192.0.2.1', 70000), destination: v4.destination }],
    ['the field holds 108', { source: unix(`/${'x'.repeat(108)}`), destination: unix('/y') }],
    ['uniqueId is 129 bytes; the limit is 128', { ...v4, uniqueId: 'u'.repeat(129) }],
    ['authority is empty', { ...v4, authority: '' }],
    ['outside 0xE0-0xEF', { ...v4, custom: [{ type: 0xf0, value: Buffer.alloc(1) }] }],
    ['needs a client certificate', { ...v4, ssl: { certOnConnection: false, certInSession: false, verified: true } }],
    ['ssl.cn is empty', { ...v4, ssl: { certOnConnection: true, certInSession: false, verified: true, cn: '' } }],
    ['header body is', { ...v4, custom: [{ type: 0xe2, value: Buffer.alloc(65535) }] }],
    ['the limit is 65535', { ...v4, authority: 'a'.repeat(65536) }]
  ] as Array<[string, ProxyHeaderInput]>)('refuses bad input: %s', (text, input) => {
    expect(problem(input)).toContain(text)
  })

  it('refuses an SPKI hash that is not 32 bytes and an empty SAN URI', () => {
    expect(mtlsTlvs({ spkiSha256: Buffer.alloc(31) })).toEqual({ ok: false, problem: 'spkiSha256 is 31 bytes, not 32' })
    expect(mtlsTlvs({ sanUri: '' })).toEqual({ ok: false, problem: 'sanUri is empty' })
  })
})
