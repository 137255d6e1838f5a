// Device identity canonicalisation as Mender (Go encoding/json) does it: keys sorted at every level, compact,
// HTML characters and U+2028/U+2029 escaped; the identity key is the SHA-256 of that text.
import { createHash } from 'node:crypto'

function sortDeep (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) out[k] = sortDeep((value as Record<string, unknown>)[k])
    return out
  }
  return value
}

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029'
}

/** Go-compatible canonical JSON text of a parsed JSON value. */
export function canonicalJson (value: unknown): string {
  // <, >, & and the line separators can only occur inside strings in JSON text, so a global replace is exact.
  return JSON.stringify(sortDeep(value)).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c)
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
