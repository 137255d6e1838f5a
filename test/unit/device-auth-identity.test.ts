// Unit tests of Go-compatible identity canonicalisation, the identity hash and id_data parsing.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { canonicalJson, identityHash, parseIdData, readIdData } from '../../src/gateway/device-auth/identity.js'

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('canonicalJson', () => {
  it('sorts top-level keys', () => {
    expect(canonicalJson({ mac: 'a', cpu: 'b' })).toBe('{"cpu":"b","mac":"a"}')
  })

  it('sorts keys of nested objects', () => {
    expect(canonicalJson({ z: { b: 1, a: { d: 2, c: 3 } } })).toBe('{"z":{"a":{"c":3,"d":2},"b":1}}')
  })

  it('sorts keys of objects inside arrays and keeps array order', () => {
    expect(canonicalJson({ l: [{ b: 1, a: 2 }, 3, 'x'] })).toBe('{"l":[{"a":2,"b":1},3,"x"]}')
  })

  it('sorts integer-like keys as text, like Go', () => {
    expect(canonicalJson(JSON.parse('{"b":1,"10":2,"9":3}'))).toBe('{"10":2,"9":3,"b":1}')
  })

  it('sorts keys by UTF-8 bytes, like Go', () => {
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF01': 2 })).toBe('{"\uFF01":2,"\u{1F600}":1}')
  })

  it('keeps a `__proto__` key of parsed JSON', () => {
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1},"a":1}'))).toBe('{"__proto__":{"x":1},"a":1}')
  })

  it('is compact', () => {
    expect(canonicalJson({ a: [1, 2], b: { c: null } })).toBe('{"a":[1,2],"b":{"c":null}}')
  })

  it('escapes < as \\u003c', () => {
    expect(canonicalJson({ a: '<' })).toBe('{"a":"\\u003c"}')
  })

  it('escapes > as \\u003e', () => {
    expect(canonicalJson({ a: '>' })).toBe('{"a":"\\u003e"}')
  })

  it('escapes & as \\u0026', () => {
    expect(canonicalJson({ a: 'x&y' })).toBe('{"a":"x\\u0026y"}')
  })

  it('escapes U+2028 as \\u2028', () => {
    expect(canonicalJson({ a: '\u2028' })).toBe('{"a":"\\u2028"}')
  })

  it('escapes U+2029 as \\u2029', () => {
    expect(canonicalJson({ a: '\u2029' })).toBe('{"a":"\\u2029"}')
  })

  it('escapes HTML characters in keys too', () => {
    expect(canonicalJson({ '<k>': 1 })).toBe('{"\\u003ck\\u003e":1}')
  })

  it('escapes quotes, backslashes and newlines as JSON does', () => {
    expect(canonicalJson({ a: '"\\\n' })).toBe('{"a":"\\"\\\\\\n"}')
  })

  it('writes other non-ASCII characters as they are', () => {
    expect(canonicalJson({ a: 'é' })).toBe('{"a":"é"}')
  })

  it('writes numbers, booleans and null as JSON does', () => {
    expect(canonicalJson({ n: 1.5, i: -3, t: true, f: false, z: null })).toBe('{"f":false,"i":-3,"n":1.5,"t":true,"z":null}')
  })
})

describe('identityHash', () => {
  it('is the hex SHA-256 of the canonical JSON', () => {
    expect(identityHash({ mac: '02:00:00:00:00:01' })).toBe(sha256('{"mac":"02:00:00:00:00:01"}'))
  })

  it('is equal for differently ordered and spaced spellings', () => {
    const a = parseIdData('{"mac":"02:00:00:00:00:01","sku":{"b":1,"a":2}}') ?? {}
    const b = parseIdData(' { "sku" : { "a" : 2 , "b" : 1 } ,\n "mac" : "02:00:00:00:00:01" } ') ?? {}
    expect(identityHash(a)).toBe(identityHash(b))
  })

  it('is equal for an escaped and an unescaped spelling of the same text', () => {
    const a = parseIdData('{"k":"<&>"}') ?? {}
    const b = parseIdData('{"k":"\\u003c\\u0026\\u003e"}') ?? {}
    expect(identityHash(a)).toBe(identityHash(b))
  })

  it('differs for a different value', () => {
    expect(identityHash({ mac: '02:00:00:00:00:01' })).not.toBe(identityHash({ mac: '02:00:00:00:00:02' }))
  })

  it('differs for a different key', () => {
    expect(identityHash({ mac: 'x' })).not.toBe(identityHash({ serial: 'x' }))
  })

  it('differs for a string and a number of the same digits', () => {
    expect(identityHash({ id: '1' })).not.toBe(identityHash({ id: 1 }))
  })

  it('differs for an extra attribute', () => {
    expect(identityHash({ mac: 'x' })).not.toBe(identityHash({ mac: 'x', sku: 'y' }))
  })
})

describe('parseIdData', () => {
  it('parses a JSON object string', () => {
    expect(parseIdData('{"mac":"02:00:00:00:00:01"}')).toEqual({ mac: '02:00:00:00:00:01' })
  })

  it('parses an empty object', () => {
    expect(parseIdData('{}')).toEqual({})
  })

  it.each([
    ['an object', { mac: 'x' }],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['an array', ['{"mac":"x"}']]
  ])('refuses %s instead of a string', (_name, value) => {
    expect(parseIdData(value)).toBeUndefined()
  })

  it.each([
    ['an array', '[{"mac":"x"}]'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"mac"'],
    ['a boolean', 'true']
  ])('refuses JSON text holding %s', (_name, text) => {
    expect(parseIdData(text)).toBeUndefined()
  })

  it.each(['', '{', '{mac: "x"}', "{'mac':'x'}", '{"mac":"x"} trailing'])('refuses the invalid JSON %j', (text) => {
    expect(parseIdData(text)).toBeUndefined()
  })
})

describe('readIdData (Go\'s decoding into map[string]interface{})', () => {
  it('keeps the last of duplicate keys, as Go\'s map assignment does', () => {
    expect(readIdData('{"mac":"A","mac":"B"}')).toEqual({ mac: 'B' })
  })

  it('keeps `__proto__` as a plain key', () => {
    const identity = readIdData('{"__proto__":{"x":1}}')
    expect(Object.keys(identity)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(identity)).toBe(Object.prototype)
  })

  it.each([
    ['a lone high surrogate', '"\\ud800"', '\uFFFD'],
    ['a lone low surrogate', '"\\udc00"', '\uFFFD'],
    ['a high surrogate before a letter', '"\\ud83d\\u0041"', '\uFFFDA'],
    ['a surrogate pair', '"\\ud83d\\ude00"', '\u{1F600}']
  ])('decodes %s escape as Go does', (_name, value, expected) => {
    expect(readIdData(`{"mac":${value}}`)).toEqual({ mac: expected })
  })

  it('refuses a number float64 cannot hold (Go\'s decode error)', () => {
    expect(() => readIdData('{"n":1e400}')).toThrow(expect.objectContaining({ code: 'MTLS_ERR_AUTH_BAD_ID_DATA' }))
  })

  it('refuses nesting deeper than 32 with MTLS_ERR_AUTH_ID_DATA_TOO_DEEP', () => {
    expect(() => readIdData(`{"l":${'['.repeat(32)}${']'.repeat(32)}}`)).toThrow(expect.objectContaining({ code: 'MTLS_ERR_AUTH_ID_DATA_TOO_DEEP' }))
  })

  it('refuses more than 16 KiB with MTLS_ERR_AUTH_ID_DATA_TOO_LARGE', () => {
    expect(() => readIdData(`{"a":"${'é'.repeat(8 * 1024)}"}`)).toThrow(expect.objectContaining({ code: 'MTLS_ERR_AUTH_ID_DATA_TOO_LARGE' }))
  })
})

describe('canonicalJson bounds and numbers', () => {
  it('writes negative zero as Go does (-0)', () => {
    expect(canonicalJson({ a: -0 })).toBe('{"a":-0}')
  })

  it('writes large and small numbers as Go\'s float64 encoder does', () => {
    expect(canonicalJson({ a: 1e21, b: 1e-7, c: 1e20, d: 0.000001 })).toBe('{"a":1e+21,"b":1e-7,"c":100000000000000000000,"d":0.000001}')
  })

  it('refuses a value nested 100,000 deep with a coded error instead of overflowing the stack', () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(() => canonicalJson({ deep })).toThrow(expect.objectContaining({ code: 'MTLS_ERR_AUTH_ID_DATA_TOO_DEEP' }))
  })
})
