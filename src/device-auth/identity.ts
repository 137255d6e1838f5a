// Device identity canonicalisation as Mender (Go encoding/json) does it: keys sorted at every level, compact,
// HTML characters and U+2028/U+2029 escaped; the identity key is the SHA-256 of that text.
import { createHash } from 'node:crypto'

// Go sorts map keys by their UTF-8 bytes; JS's default sort compares UTF-16 units, which differs beyond the BMP.
const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

// Written out by hand: rebuilding objects would let JS reorder integer-like keys first and swallow `__proto__`.
function sortedJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(byUtf8)
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029'
}

/** Go-compatible canonical JSON text of a parsed JSON value. */
export function canonicalJson (value: unknown): string {
  // <, >, & and the line separators can only occur inside strings in JSON text, so a global replace is exact.
  return sortedJson(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c)
}

/** Hex SHA-256 of the canonical identity: equal for every spelling of the same identity object. */
export function identityHash (identity: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(identity)).digest('hex')
}

/** Parses `id_data` (a string holding a JSON object); returns undefined when it is anything else. */
export function parseIdData (idData: unknown): Record<string, unknown> | undefined {
  if (typeof idData !== 'string') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(idData)
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  return parsed as Record<string, unknown>
}
