// A corpus of tricky auth request bodies (hand-written and generated from a fixed seed) for comparing readings with
// the Go oracle: field-name case variants, Kelvin/long-s/dotted-i spellings, escapes, duplicates, nulls, wrong types,
// deep nesting, invalid UTF-8, lone surrogates, BOM, trailing garbage, odd numbers and hostile PEM texts.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'

export interface CorpusKeys {
  a: { publicKey: KeyObject, privateKey: KeyObject }
  b: { publicKey: KeyObject, privateKey: KeyObject }
  pemA: string
  pemB: string
  /** PEM texts of key A that a strict reader still accepts (line endings, wrapping, surrounding blank lines). */
  cleanPems: string[]
}

export interface CorpusBody { name: string, body: Buffer }

export const ID1 = '{"mac":"02:00:00:00:00:01"}'
export const ID2 = '{"mac":"02:00:00:00:00:02"}'

export function corpusKeys (): CorpusKeys {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pemA = a.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const pemB = b.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return { a, b, pemA, pemB, cleanPems: [pemA, pemB, pemA.replace(/\n/g, '\r\n'), rewrap(pemA, 76), `\n\n${pemA}\n`, pemA.trimEnd()] }
}

/** The same PEM with its base64 body re-wrapped at `width` columns. */
export function rewrap (pem: string, width: number): string {
  const lines = pem.trim().split('\n')
  const body = lines.slice(1, -1).join('')
  return [lines[0], ...(body.match(new RegExp(`.{1,${width}}`, 'g')) ?? []), lines.at(-1)].join('\n') + '\n'
}

const q = (s: string): string => JSON.stringify(s)
const bytes = (...parts: Array<string | Buffer>): Buffer =>
  Buffer.concat(parts.map((p) => typeof p === 'string' ? Buffer.from(p, 'utf8') : p))

/** `{k1:v1,k2:v2,…}` from raw key and value texts (keys include their quotes). */
export function rawObject (pairs: Array<[string | Buffer, string | Buffer]>, ws = ''): Buffer {
  const parts: Array<string | Buffer> = ['{', ws]
  pairs.forEach(([k, v], i) => { parts.push(i > 0 ? `,${ws}` : '', k, `${ws}:${ws}`, v, ws) })
  parts.push('}')
  return bytes(...parts)
}

/** A JSON string literal whose content bytes are given raw (for invalid UTF-8 inside strings). */
const rawString = (...content: Array<string | Buffer>): Buffer => bytes('"', ...content, '"')

function nested (depth: number, inner = '1'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth)
}

function hostilePems (k: CorpusKeys): Record<string, string> {
  const priv = k.a.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const broken = '-----BEGIN PUBLIC KEY-----\n!!!! not base64 !!!!\n-----END PUBLIC KEY-----\n'
  return {
    'pkcs1 RSA PUBLIC KEY': generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    'private key': priv,
    'two public key blocks': k.pemA + k.pemB,
    'broken block then PRIVATE KEY': broken + priv,
    'junk before the block': `junk\n${k.pemA}`,
    'trailing text after the block': `${k.pemA}trailing text\n`,
    'base64 on the BEGIN line': k.pemA.replace('-----\n', '-----'),
    'empty block': '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n',
    'PEM with a header line': k.pemA.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')
  }
}

function fieldCases (k: CorpusKeys): CorpusBody[] {
  const pk = q(k.pemA)
  const c = (name: string, pairs: Array<[string | Buffer, string | Buffer]>): CorpusBody =>
    ({ name, body: rawObject(pairs) })
  return [
    c('plain', [['"id_data"', q(ID1)], ['"pubkey"', pk]]),
    c('plain with tenant_token', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_token"', q('tok-1')]]),
    c('id_data then ID_DATA', [['"id_data"', q(ID1)], ['"ID_DATA"', q(ID2)], ['"pubkey"', pk]]),
    c('ID_DATA then id_data', [['"ID_DATA"', q(ID2)], ['"id_data"', q(ID1)], ['"pubkey"', pk]]),
    c('only ID_DATA', [['"ID_DATA"', q(ID2)], ['"pubkey"', pk]]),
    c('only Id_Data and PUBKEY', [['"Id_Data"', q(ID2)], ['"PUBKEY"', pk]]),
    c('tenant_token then Tenant_Token', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_token"', q('tok-1')], ['"Tenant_Token"', q('tok-2')]]),
    c('only TENANT_TOKEN', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"TENANT_TOKEN"', q('tok-2')]]),
    c('pubkey then PUBKEY', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"PUBKEY"', q(k.pemB)]]),
    c('Kelvin sign in pubkey (raw)', [['"id_data"', q(ID1)], ['"pub\u212Aey"', pk]]),
    c('Kelvin sign in pubkey (escaped) after pubkey', [['"id_data"', q(ID1)], ['"pubkey"', q(k.pemB)], ['"pub\\u212aey"', pk]]),
    c('Kelvin sign in tenant_token', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_to\u212Aen"', q('tok-2')]]),
    c('long s key is no field', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"\u017F"', q('x')]]),
    c('escaped exact id_data', [['"\\u0069d_data"', q(ID2)], ['"pubkey"', pk]]),
    c('escaped underscore', [['"id\\u005fdata"', q(ID2)], ['"pubkey"', pk]]),
    c('escaped exact id_data after id_data', [['"id_data"', q(ID1)], ['"\\u0069d_data"', q(ID2)], ['"pubkey"', pk]]),
    c('dotless i key alone', [['"\u0131d_data"', q(ID2)], ['"pubkey"', pk]]),
    c('dotted I key after id_data', [['"id_data"', q(ID1)], ['"\\u0130D_DATA"', q(ID2)], ['"pubkey"', pk]]),
    c('null then id_data', [['"id_data"', 'null'], ['"ID_DATA"', q(ID2)], ['"pubkey"', pk]]),
    c('id_data then null', [['"id_data"', q(ID1)], ['"id_data"', 'null'], ['"pubkey"', pk]]),
    c('only null id_data', [['"id_data"', 'null'], ['"pubkey"', pk]]),
    c('null tenant_token', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_token"', 'null']]),
    c('id_data number', [['"id_data"', '5'], ['"pubkey"', pk]]),
    c('id_data object', [['"id_data"', ID1], ['"pubkey"', pk]]),
    c('tenant_token number', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_token"', '5']]),
    c('tenant_token true', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"tenant_token"', 'true']]),
    c('pubkey array', [['"id_data"', q(ID1)], ['"pubkey"', '[]']]),
    c('wrong type on a case variant', [['"id_data"', q(ID1)], ['"pubkey"', pk], ['"Tenant_Token"', '{}']]),
    c('exact duplicate id_data', [['"id_data"', q(ID1)], ['"id_data"', q(ID2)], ['"pubkey"', pk]]),
    c('unknown fields', [['"tier"', q('standard')], ['"id_data"', q(ID1)], ['"pubkey"', pk], ['"id-data"', q(ID2)], ['"pubkeys"', q('x')]]),
    c('invalid UTF-8 key', [['"id_data"', q(ID1)], [Buffer.from([0x22, 0xff, 0x69, 0x64, 0x22]), q('x')], ['"pubkey"', pk]]),
    c('id_data key with invalid byte', [[bytes('"id_data', Buffer.from([0xff]), '"'), q(ID2)], ['"id_data"', q(ID1)], ['"pubkey"', pk]])
  ]
}

function structureCases (k: CorpusKeys): CorpusBody[] {
  const good = rawObject([['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])
  const c = (name: string, body: string | Buffer): CorpusBody => ({ name, body: typeof body === 'string' ? Buffer.from(body) : body })
  return [
    c('BOM before the body', bytes(Buffer.from([0xef, 0xbb, 0xbf]), good)),
    c('trailing garbage', bytes(good, ' x')),
    c('trailing second object', bytes(good, '{}')),
    c('trailing whitespace', bytes(good, ' \r\n\t')),
    c('leading whitespace', bytes('\n\t ', good)),
    c('non-JSON whitespace', bytes('\u00a0', good)),
    c('form feed whitespace', bytes('\f', good)),
    c('empty body', ''),
    c('whitespace only', '  \n'),
    c('top-level array', '[]'),
    c('top-level string', '"id_data"'),
    c('top-level number', '42'),
    c('top-level null', 'null'),
    c('top-level true', 'true'),
    c('unterminated object', good.subarray(0, good.length - 1)),
    c('missing colon', '{"id_data" "x"}'),
    c('trailing comma', bytes(good.subarray(0, good.length - 1), ',}')),
    c('single quotes', "{'id_data':'x'}"),
    c('unquoted key', '{id_data:"x"}'),
    c('control character in a string', bytes('{"tier":"a', Buffer.from([0x01]), '"}')),
    c('invalid escape', '{"tier":"\\x41"}'),
    c('short unicode escape', '{"tier":"\\u12"}'),
    c('bad literals', '{"tier":tru}'),
    c('NaN', '{"tier":NaN}'),
    c('leading zero', '{"tier":01}'),
    c('plus sign', '{"tier":+1}'),
    c('bare fraction', '{"tier":.5}'),
    c('dangling exponent', '{"tier":1e}'),
    c('huge number in an unknown field', rawObject([['"tier"', '1e400'], ['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])),
    c('body nested 40 deep', rawObject([['"x"', nested(40)], ['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])),
    c('body nested 32 deep', rawObject([['"x"', nested(31)], ['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])),
    c('body nested 5000 deep', rawObject([['"x"', nested(5000)], ['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])),
    c('body nested 100000 deep', rawObject([['"x"', nested(100000)], ['"id_data"', q(ID1)], ['"pubkey"', q(k.pemA)]])),
    c('unclosed nesting 100000 deep', '['.repeat(100000))
  ]
}

function idDataCases (k: CorpusKeys): CorpusBody[] {
  const pk = q(k.pemA)
  const id = (name: string, idData: string | Buffer): CorpusBody =>
    ({ name: `id_data ${name}`, body: rawObject([['"id_data"', typeof idData === 'string' ? q(idData) : idData], ['"pubkey"', pk]]) })
  const deep = (n: number): string => `{"mac":"x","l":${nested(n - 1)}}`
  return [
    id('empty string', ''),
    id('empty object', '{}'),
    id('null text', 'null'),
    id('array text', '["x"]'),
    id('string text', '"x"'),
    id('invalid JSON', '{mac:1}'),
    id('trailing garbage', `${ID1} x`),
    id('surrounded by whitespace', ` ${ID1}\n`),
    id('duplicate inner keys', '{"mac":"A","mac":"B"}'),
    id('__proto__ key', '{"__proto__":{"x":1},"mac":"m"}'),
    id('nested objects', '{"z":{"b":1,"a":{"d":2,"c":3}},"a":[{"y":1,"x":2}]}'),
    id('integer-like keys', '{"b":1,"10":2,"9":3}'),
    id('non-BMP keys', '{"\u{1F600}":1,"\uFF01":2}'),
    id('HTML characters', '{"a":"<b>&amp;</b>","<k>":1}'),
    id('line separators', '{"a":"\u2028\u2029"}'),
    id('control escapes', '{"a":"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"}'),
    id('escaped slash and quotes', '{"a":"\\/\\"\\\\"}'),
    id('numbers', '{"a":0,"b":-0,"c":1e21,"d":1e-7,"e":123456789012345678901234567890,"f":0.1,"g":1E+2,"h":-1.5e-300}'),
    id('number edge cases', '{"a":5e-324,"b":1e-400,"c":-1e-400,"d":1.7976931348623157e308,"e":0.000001,"f":1e20}'),
    id('number out of range', '{"a":1e400}'),
    id('booleans and null', '{"t":true,"f":false,"n":null}'),
    id('escaped lone high surrogate', '{"mac":"\\ud800"}'),
    id('escaped lone low surrogate', '{"mac":"\\udc00x"}'),
    id('escaped high surrogate then letter', '{"mac":"\\ud83d\\u0041"}'),
    id('escaped surrogate pair', '{"mac":"\\ud83d\\ude00"}'),
    id('escaped high high low', '{"mac":"\\ud83d\\ud83d\\ude00"}'),
    id('raw lone surrogate escape in the outer string', rawString('{\\"mac\\":\\"\\ud800\\"}')),
    id('invalid byte', rawString('{\\"mac\\":\\"', Buffer.from([0xff]), '\\"}')),
    id('truncated 3-byte sequence', rawString('{\\"mac\\":\\"', Buffer.from([0xe2, 0x82]), 'x\\"}')),
    id('truncated 4-byte sequence', rawString('{\\"mac\\":\\"', Buffer.from([0xf0, 0x9f, 0x98]), '\\"}')),
    id('overlong encoding', rawString('{\\"mac\\":\\"', Buffer.from([0xc0, 0x80]), '\\"}')),
    id('UTF-8 encoded surrogate', rawString('{\\"mac\\":\\"', Buffer.from([0xed, 0xa0, 0x80]), '\\"}')),
    id('code point above U+10FFFF', rawString('{\\"mac\\":\\"', Buffer.from([0xf4, 0x90, 0x80, 0x80]), '\\"}')),
    id('continuation bytes alone', rawString('{\\"mac\\":\\"', Buffer.from([0x80, 0xbf]), '\\"}')),
    id('valid multibyte', '{"mac":"é€😀"}'),
    id('invalid byte in a key', rawString('{\\"m', Buffer.from([0xfe]), 'c\\":1}')),
    id('nested 32 deep', deep(32)),
    id('nested 33 deep', deep(33)),
    id('nested 5000 deep', deep(5000)),
    id('nested 100000 deep', `{"l":${'['.repeat(100000)}`),
    id('of 16 KiB', `{"mac":"${'x'.repeat(16 * 1024 - 10)}"}`),
    id('of 17 KiB', `{"mac":"${'x'.repeat(17 * 1024)}"}`)
  ]
}

function pemCases (k: CorpusKeys): CorpusBody[] {
  const all = { ...Object.fromEntries(k.cleanPems.map((p, i) => [`clean PEM ${i}`, p])), ...hostilePems(k) }
  return Object.entries(all).map(([name, pem]) => ({ name: `pubkey ${name}`, body: rawObject([['"id_data"', q(ID1)], ['"pubkey"', q(pem)]]) }))
}

/** mulberry32: a small fixed-seed generator so the generated corpus is the same on every run. */
function random (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SPELLINGS: Record<string, string[]> = {
  id_data: ['"id_data"', '"id_data"', '"ID_DATA"', '"Id_Data"', '"\\u0069d_data"', '"iD_dAtA"', '"\u0131d_data"', '"\\u0130d_data"'],
  pubkey: ['"pubkey"', '"pubkey"', '"PUBKEY"', '"pubKey"', '"pub\u212Aey"', '"pub\\u212aey"', '"Pub\\u004bey"'],
  tenant_token: ['"tenant_token"', '"TENANT_TOKEN"', '"Tenant_Token"', '"tenant_to\u212Aen"', '"\\u0074enant_token"'],
  other: ['"tier"', '"id-data"', '"pubkeys"', '"\u017F"', '"tenant"', '"id_data "', '"ID_DATA\\u0000"']
}

/** `count` bodies mixing spellings, values and whitespace, reproducibly. */
function generated (k: CorpusKeys, count: number): CorpusBody[] {
  const rnd = random(0x5eed)
  const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)] as T
  const values: Record<string, string[]> = {
    id_data: [q(ID1), q(ID1), q(ID2), 'null', '5', '{}', q(''), q('{"mac":"\\u003cx\\u003e"}')],
    pubkey: [q(k.pemA), q(k.pemA), q(k.pemB), 'null', q(k.pemA.replace(/\n/g, '\r\n')), '[]', q('')],
    tenant_token: [q('tok-1'), q('tok-2'), 'null', q(''), 'false'],
    other: [q('x'), '1e400', '[[{"a":null}]]', 'null', q(ID2), '{"id_data":"x"}']
  }
  const out: CorpusBody[] = []
  for (let i = 0; i < count; i++) {
    const extra = ['other', 'other', 'other', 'tenant_token', 'tenant_token', 'id_data', 'pubkey']
    const fields = ['id_data', 'pubkey', ...Array.from({ length: Math.floor(rnd() * 4) }, () => pick(extra))]
    const pairs = fields.map((f): [string, string] => [pick(SPELLINGS[f] ?? []), pick(values[f] ?? [])])
    pairs.sort(() => rnd() - 0.5)
    out.push({ name: `generated #${i}`, body: rawObject(pairs, pick(['', ' ', '\n', '\t', '\r\n '])) })
  }
  return out
}

/** The whole corpus: hand-written cases first, then `generatedCount` generated ones. */
export function authBodyCorpus (k: CorpusKeys, generatedCount = 400): CorpusBody[] {
  return [...fieldCases(k), ...structureCases(k), ...idDataCases(k), ...pemCases(k), ...generated(k, generatedCount)]
}
