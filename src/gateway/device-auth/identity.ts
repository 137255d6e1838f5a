// Device identity as Mender reads it: `id_data` decoded as Go decodes it into map[string]interface{} (last duplicate
// wins, float64 numbers, U+FFFD for broken text), bounded in size and depth, and canonicalised as Go re-encodes it:
// keys sorted at every level, compact, HTML characters and U+2028/U+2029 escaped; the identity key is its SHA-256.
import { createHash } from 'node:crypto'
import { HttpErrors } from '../../errors.js'
import { readJson, type JsonValue } from './json-reader.js'

/** Largest `id_data` accepted (UTF-8 bytes) and deepest nesting inside it. */
export const ID_DATA_MAX_BYTES = 16 * 1024
export const ID_DATA_MAX_DEPTH = 32

// Go sorts map keys by their UTF-8 bytes; JS's default sort compares UTF-16 units, which differs beyond the BMP.
const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

// Go writes float64 like JS does (shortest round trip, exponent below 1e-6 and from 1e21) except for negative zero.
const goNumber = (n: number): string => Object.is(n, -0) ? '-0' : JSON.stringify(n)

// Written out by hand: rebuilding objects would let JS reorder integer-like keys first and swallow `__proto__`.
// Identities come from readIdData (depth-bounded); the guard keeps any other caller from recursing without end.
function sortedJson (value: unknown, depth: number): string {
  if (depth > ID_DATA_MAX_DEPTH + 1) throw new HttpErrors.AUTH_ID_DATA_TOO_DEEP()
  if (Array.isArray(value)) return `[${value.map((v) => sortedJson(v, depth + 1)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(byUtf8)
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(obj[k], depth + 1)}`).join(',')}}`
  }
  if (typeof value === 'number') return goNumber(value)
  return JSON.stringify(value) ?? 'null'
}

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029'
}

/** Go-compatible canonical JSON text of a parsed JSON value. */
export function canonicalJson (value: unknown): string {
  // <, >, & and the line separators can only occur inside strings in JSON text, so a global replace is exact.
  return sortedJson(value, 0).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c)
}

/** Hex SHA-256 of the canonical identity: equal for every spelling of the same identity object. */
export function identityHash (identity: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(identity)).digest('hex')
}

/** The JS value of a read JSON value, as Go's interface{} holds it (depth already bounded by the reader). */
function toValue (v: JsonValue): unknown {
  switch (v.type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      // defineProperty: a `__proto__` key is data, and a repeated key overwrites (Go's map assignment)
      for (const [k, item] of v.entries) {
        Object.defineProperty(out, k, { value: toValue(item), enumerable: true, writable: true, configurable: true })
      }
      return out
    }
    case 'array': return v.items.map(toValue)
    case 'number': {
      const n = Number(v.text)
      // Go's float64 conversion fails beyond its range (Mender answers 400)
      if (!Number.isFinite(n)) throw new HttpErrors.AUTH_BAD_ID_DATA()
      return n
    }
    case 'string':
    case 'boolean': return v.value
    case 'null': return null
  }
}

/** The identity object in `id_data`, or a coded 400 (not an object, too large, too deep). */
export function readIdData (idData: string): Record<string, unknown> {
  const bytes = Buffer.from(idData, 'utf8')
  if (bytes.length > ID_DATA_MAX_BYTES) throw new HttpErrors.AUTH_ID_DATA_TOO_LARGE()
  const read = readJson(bytes, ID_DATA_MAX_DEPTH)
  if (!read.ok && read.reason === 'depth') throw new HttpErrors.AUTH_ID_DATA_TOO_DEEP()
  if (!read.ok) throw new HttpErrors.AUTH_BAD_ID_DATA()
  if (read.value.type !== 'object') throw new HttpErrors.AUTH_BAD_ID_DATA()
  return toValue(read.value) as Record<string, unknown>
}

/** Parses `id_data` (a string holding a JSON object); returns undefined when it is anything else. */
export function parseIdData (idData: unknown): Record<string, unknown> | undefined {
  if (typeof idData !== 'string') return undefined
  try {
    return readIdData(idData)
  } catch {
    return undefined
  }
}
