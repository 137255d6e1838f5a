// Fuzzing of device auth request bodies (the Go-rule JSON reader, the field reading and the whole auth request
// parse): whatever the bytes, the reading ends in the fields or in a coded 400, never another exception; generated
// bodies with every spelling Go folds read exactly as Go's last-wins, case-insensitive decoding reads them (a model of
// encoding/json, and on a sample the Go oracle itself), except that a field given twice or by a spelling Go versions
// disagree on is refused as ambiguous.
import { generateKeyPairSync, sign } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readJson, type JsonValue } from '../../src/gateway/device-auth/json-reader.js'
import { AUTH_FIELDS, BODY_MAX_DEPTH, readAuthBody, type AuthField, type AuthFields } from '../../src/gateway/device-auth/auth-body.js'
import { parseAuthRequest } from '../../src/gateway/device-auth/parse.js'
import { buildGoOracle, type GoOracle } from '../support/go-oracle.js'
import { FuzzTally, mutated, outcome, wellFormed } from './support/fuzz.js'

const tally = new FuzzTally('fuzz-auth-body')
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const PUBKEY = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()
let oracle: GoOracle

beforeAll(() => { oracle = buildGoOracle() }, 120_000)
afterAll(() => {
  oracle?.cleanup()
  tally.write()
})

/** A key of the body: the field Go matches it to (by construction), and whether every Go version agrees. */
interface KeySpec { text: string, field: AuthField | undefined, stable: boolean }

/** Spellings Go folds to each ASCII letter: both cases, and the non-ASCII runes Go maps to k, s and i. */
const FOLDS: Record<string, Array<{ ch: string, stable: boolean }>> = {
  k: [{ ch: '\u212A', stable: true }],
  s: [{ ch: '\u017F', stable: true }],
  i: [{ ch: '\u0130', stable: false }, { ch: '\u0131', stable: false }]
}

function spelling (field: AuthField): fc.Arbitrary<KeySpec> {
  const chars = [...field].map((c) => fc.oneof(
    { weight: 6, arbitrary: fc.constant({ ch: c, stable: true }) },
    { weight: 3, arbitrary: fc.constant({ ch: c.toUpperCase(), stable: true }) },
    ...(FOLDS[c] ?? []).map((f) => ({ weight: 1, arbitrary: fc.constant(f) }))
  ))
  return fc.tuple(...chars).map((parts) => ({
    text: parts.map((p) => p.ch).join(''), field, stable: parts.every((p) => p.stable)
  }))
}

/** Keys no field matches: near misses of the field names and random text (never starting like a field). */
const unknownKey: fc.Arbitrary<KeySpec> = fc.oneof(
  fc.constantFrom('id_data ', 'iddata', 'id-data', 'pub_key', 'pubkeys', 'tenant-token', '', 'ID_DATA\u0000', 'pubkey\u200b'),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => 'x' + s)
).map((text) => ({ text, field: undefined, stable: true }))

const keySpec = fc.oneof(
  ...AUTH_FIELDS.map((f) => ({ weight: 3, arbitrary: spelling(f) })), { weight: 2, arbitrary: unknownKey }
)

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }
)

const space = fc.constantFrom('', '', ' ', '\t', '\n', '\r\n ')

/** A JSON string literal of `s`, each character optionally written as a \u escape. */
function literal (s: string, escapes: boolean[]): string {
  let out = '"'
  let i = 0
  for (const ch of s) {
    const plain = JSON.stringify(ch).slice(1, -1)
    out += escapes[i++ % Math.max(1, escapes.length)] === true && ch.length === 1
      ? `\\u${(ch.charCodeAt(0)).toString(16).padStart(4, '0')}`
      : plain
  }
  return out + '"'
}

interface Entry { key: KeySpec, value: unknown }
interface Body { entries: Entry[], bytes: Buffer }

const body: fc.Arbitrary<Body> = fc.array(
  fc.record({ key: keySpec, value: jsonish, escapes: fc.array(fc.boolean(), { maxLength: 4 }), ws: space }),
  { maxLength: 6 }
).map((items) => {
  const text = '{' + items.map((e) => `${e.ws}${literal(e.key.text, e.escapes)}${e.ws}:${JSON.stringify(e.value)}`).join(',') + '}'
  return { entries: items.map(({ key, value }) => ({ key, value })), bytes: Buffer.from(text, 'utf8') }
})

type Expected = { kind: 'fields', fields: AuthFields } | { kind: 'refused', codes: string[] }

/** Go's reading (each key sets its field, the last one wins; null leaves it; another type is an error), and ours. */
function expected (entries: Entry[]): Expected {
  const fields: AuthFields = { id_data: '', pubkey: '', tenant_token: '' }
  const seen = new Map<AuthField, number>()
  let unstable = false
  let typeError: AuthField | undefined
  for (const { key, value } of entries) {
    if (key.field === undefined) continue
    seen.set(key.field, (seen.get(key.field) ?? 0) + 1)
    unstable ||= !key.stable
    if (typeof value === 'string') fields[key.field] = wellFormed(value)
    else if (value !== null) typeError ??= key.field
  }
  if (unstable || [...seen.values()].some((n) => n > 1)) return { kind: 'refused', codes: ['MTLS_ERR_AUTH_AMBIGUOUS_FIELD'] }
  if (typeError === 'id_data') return { kind: 'refused', codes: ['MTLS_ERR_AUTH_BAD_ID_DATA'] }
  if (typeError === 'pubkey') return { kind: 'refused', codes: ['MTLS_ERR_AUTH_BAD_PUBKEY'] }
  if (typeError !== undefined) return { kind: 'refused', codes: ['MTLS_ERR_AUTH_MALFORMED'] }
  return { kind: 'fields', fields }
}

const TOKENS = ['{', '}', '[', ']', '"', '\\', '\\u', '\\ud800', '\\udc00', ':', ',', 'null', 'true', '1e999', '-', '0.',
  '\u0000', ' ', '\u212A'].map((t) => Buffer.from(t, 'utf8')).concat([Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xef, 0xbb, 0xbf])])

const noCrash = (o: ReturnType<typeof outcome>): boolean => o.kind === 'value' || (o.kind === 'coded' && o.status === 400)

/** JS value of a reader value, duplicate keys last-wins (as JSON.parse does). */
function toJs (v: JsonValue): unknown {
  if (v.type === 'object') return Object.fromEntries(v.entries.map(([k, x]) => [k, toJs(x)]))
  if (v.type === 'array') return v.items.map(toJs)
  if (v.type === 'number') return Number(v.text)
  if (v.type === 'null') return null
  return v.value
}

function wellFormedDeep (v: unknown): unknown {
  if (typeof v === 'string') return wellFormed(v)
  if (Array.isArray(v)) return v.map(wellFormedDeep)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), wellFormedDeep(x)]))
  return v
}

/** A JSON null body: Go decodes it into an empty request (Mender then refuses it), the ambassador refuses at once. */
const isJsonNull = (bytes: Buffer): boolean =>
  bytes.toString('latin1').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '') === 'null'

describe('auth request body fuzzing', () => {
  it('reads generated bodies exactly as Go reads them (last wins, case-insensitive), refusing ambiguity', () => {
    tally.check('body model', body, (b) => {
      const want = expected(b.entries)
      const got = outcome(() => readAuthBody(b.bytes))
      if (want.kind === 'fields') expect(got).toEqual({ kind: 'value', value: want.fields })
      else expect(got).toMatchObject({ kind: 'coded', status: 400, code: expect.toBeOneOf(want.codes) })
    }, 25_000)
  })

  it('ends every mutated body in its fields or a coded 400, never another exception', () => {
    tally.check('mutated bodies', mutated(body.map((b) => b.bytes), TOKENS), (bytes) => {
      expect(noCrash(outcome(() => readAuthBody(bytes)))).toBe(true)
    }, 25_000)
  })

  it('ends random bytes in a coded 400 or fields', () => {
    tally.check('random bytes', fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), (bytes) => {
      expect(noCrash(outcome(() => readAuthBody(bytes)))).toBe(true)
    }, 10_000)
  })

  it('reads any valid JSON text as JSON.parse does (Go strings: lone surrogates become U+FFFD)', () => {
    tally.check('json reader', fc.jsonValue({ maxDepth: 6 }), (v) => {
      const text = JSON.stringify(v)
      const read = readJson(Buffer.from(text, 'utf8'), 64)
      expect(read.ok).toBe(true)
      if (read.ok) expect(toJs(read.value)).toEqual(wellFormedDeep(JSON.parse(text)))
    }, 10_000)
  })

  it('bounds nesting: a body nested deeper than the limit is refused as too deep, never a stack overflow', () => {
    tally.check('nesting', fc.integer({ min: 0, max: 5000 }), (n) => {
      const bytes = Buffer.from(`{"x":${'['.repeat(n)}0${']'.repeat(n)}}`)
      const got = outcome(() => readAuthBody(bytes))
      // the body object itself is one level, each array one more
      if (n + 1 <= BODY_MAX_DEPTH) expect(got.kind).toBe('value')
      else expect(got).toMatchObject({ kind: 'coded', code: 'MTLS_ERR_AUTH_TOO_DEEP' })
    }, 2_000)
  })

  it('parses whole signed auth requests, mutated or not, into an identity or a coded 4xx', () => {
    const identity = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ unit: 'binary', maxLength: 16 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 4 })
    const request = fc.tuple(identity, fc.boolean()).map(([id, tenant]) => {
      const bytes = Buffer.from(JSON.stringify({ id_data: JSON.stringify(id), pubkey: PUBKEY, ...(tenant ? { tenant_token: 'tok' } : {}) }))
      return { id, bytes, signature: sign('sha256', bytes, keys.privateKey).toString('base64') }
    })
    tally.check('signed requests', request, (r) => {
      const got = outcome(() => parseAuthRequest(r.bytes, 'application/json', r.signature))
      expect(got.kind).toBe('value')
      if (got.kind === 'value') expect(got.value.identity).toEqual(wellFormedDeep(JSON.parse(JSON.stringify(r.id))))
    }, 3_000)
    const broken = fc.tuple(request, mutated(request.map((r) => r.bytes), TOKENS))
      .map(([r, bytes]) => ({ bytes, signature: r.signature }))
    tally.check('mutated signed requests', broken, (r) => {
      const got = outcome(() => parseAuthRequest(r.bytes, 'application/json', r.signature))
      if (got.kind === 'other') throw got.error
      if (got.kind === 'coded') expect(got.status).toBeGreaterThanOrEqual(400)
      if (got.kind === 'coded') expect(got.status).toBeLessThan(500)
    }, 7_000)
  })

  it('agrees with the Go oracle on a sample of generated and mutated bodies', () => {
    const bytes = body.map((b) => b.bytes)
    const sample = [...fc.sample(bytes, 300), ...fc.sample(mutated(bytes, TOKENS), 200)]
    const go = oracle.read(sample)
    const problems: string[] = []
    let bothRead = 0
    sample.forEach((bytes, i) => {
      const g = go[i]
      if (g === undefined) return
      const got = outcome(() => readAuthBody(bytes))
      const ambiguous = Object.values(g.matches).some((n) => n > 1) || g.keys.some((k) => /[\u0130\u0131]/.test(k))
      if (got.kind === 'value') {
        bothRead++
        const goFields = { id_data: g.idData, pubkey: g.pubkey, tenant_token: g.tenantToken }
        if (g.decodeErr !== '' || JSON.stringify(goFields) !== JSON.stringify(got.value)) {
          problems.push(`${bytes.toString('base64')}: ours ${JSON.stringify(got.value)} go ${JSON.stringify(goFields)} ${g.decodeErr}`)
        }
      } else if (g.decodeErr === '' && !ambiguous && g.depth <= BODY_MAX_DEPTH && !isJsonNull(bytes)) {
        problems.push(`${bytes.toString('base64')}: ours ${JSON.stringify(got)} but Go decodes it`)
      }
    })
    tally.add('go oracle sample', sample.length)
    expect(problems).toEqual([])
    // the sample is worth something only if many of its bodies are read, not refused
    expect(bothRead).toBeGreaterThan(50)
  })
})
