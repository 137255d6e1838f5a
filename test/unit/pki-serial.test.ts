// Serial numbers: the random serial format and the normal form shared by denylists and CRLs.
import { describe, expect, it } from 'vitest'
import { normalizeSerial } from '../../src/tools/pki/index.js'
import { peerSerial } from '../../src/x509/serial.js'
import { randomSerialHex } from '../../src/x509/serial.js'

describe('randomSerialHex', () => {
  it('is 16 bytes with the top bit clear and no leading zero byte', () => {
    const serials = Array.from({ length: 200 }, randomSerialHex)
    expect(serials.every((s) => /^[4-7][0-9a-f]{31}$/.test(s))).toBe(true)
  })
})

describe('normalizeSerial', () => {
  it('lowercases', () => {
    expect(normalizeSerial('ABCDEF')).toBe('abcdef')
  })

  it('drops colon separators as openssl prints them', () => {
    expect(normalizeSerial('5b:76:fe')).toBe('5b76fe')
  })

  it('drops a 0x prefix', () => {
    expect(normalizeSerial('0x1F')).toBe('1f')
  })

  it('drops leading zeros', () => {
    expect(normalizeSerial('00ff')).toBe('ff')
  })

  it('keeps a zero serial as 0', () => {
    expect(normalizeSerial('00')).toBe('0')
  })

  it('trims surrounding whitespace', () => {
    expect(normalizeSerial('  ab\n')).toBe('ab')
  })

  it('refuses non-hex text', () => {
    expect(() => normalizeSerial('xyz')).toThrow(TypeError)
  })

  it('refuses an empty string', () => {
    expect(() => normalizeSerial('')).toThrow(TypeError)
  })
})

describe('peerSerial', () => {
  it('normalises the upper-case hex Node prints', () => {
    expect(peerSerial('00AB12')).toBe('ab12')
  })

  it.each([['-05'], [''], ['0x12'], ['AB:CD'], [undefined], [null], [12]])('gives undefined for %j (never throws)', (value) => {
    expect(peerSerial(value)).toBeUndefined()
  })
})
