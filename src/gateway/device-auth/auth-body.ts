// Reads the auth request fields as Mender's Go decoder (encoding/json into deviceauth's AuthReq) reads them — exact
// key first, else a case-insensitive Unicode match; null leaves a field empty; another type is a decode error — and
// refuses a body whose reading is ambiguous: a field matched by two keys, or by a spelling Go versions disagree on.
import { HttpErrors, type CodedError } from '../../errors.js'
import { readJson, type JsonValue } from './json-reader.js'
import { goFoldUpper } from '../mender/go-fold.js'

export { GO_FOLDS } from '../mender/go-fold.js'

/** Deepest nesting accepted in the body (Mender's own limit is Go's 10,000). */
export const BODY_MAX_DEPTH = 32

export const AUTH_FIELDS = ['id_data', 'pubkey', 'tenant_token'] as const
export type AuthField = typeof AUTH_FIELDS[number]

/** The three fields as Go leaves them: '' when absent or null. */
export type AuthFields = Record<AuthField, string>

/** Which field a key lands in, by Go's rule, and whether every Go version agrees; undefined for unknown keys. */
export function matchField (key: string): { field: AuthField, stable: boolean } | undefined {
  const exact = AUTH_FIELDS.find((f) => f === key)
  if (exact !== undefined) return { field: exact, stable: true }
  const { folded, stable } = goFoldUpper(key)
  const field = AUTH_FIELDS.find((f) => f.toUpperCase() === folded)
  return field === undefined ? undefined : { field, stable }
}

/** A decode error for a field of the wrong type, coded by field (Mender: 400 `failed to decode auth request`). */
function wrongType (field: AuthField): CodedError {
  if (field === 'id_data') return new HttpErrors.AUTH_BAD_ID_DATA()
  if (field === 'pubkey') return new HttpErrors.AUTH_BAD_PUBKEY()
  return new HttpErrors.AUTH_MALFORMED()
}

function topLevel (body: Buffer): Array<[string, JsonValue]> {
  const read = readJson(body, BODY_MAX_DEPTH)
  if (!read.ok) throw read.reason === 'depth' ? new HttpErrors.AUTH_TOO_DEEP() : new HttpErrors.AUTH_MALFORMED()
  if (read.value.type !== 'object') throw new HttpErrors.AUTH_MALFORMED()
  return read.value.entries
}

/** The fields of a raw auth request body, or a coded 400 (malformed, too deep, ambiguous, wrong type). */
export function readAuthBody (body: Buffer): AuthFields {
  const fields: AuthFields = { id_data: '', pubkey: '', tenant_token: '' }
  const seen = new Set<AuthField>()
  let typeError: CodedError | undefined
  for (const [key, value] of topLevel(body)) {
    const match = matchField(key)
    if (match === undefined) continue
    if (seen.has(match.field) || !match.stable) throw new HttpErrors.AUTH_AMBIGUOUS_FIELD()
    seen.add(match.field)
    if (value.type === 'string') fields[match.field] = value.value
    else if (value.type !== 'null') typeError ??= wrongType(match.field)
  }
  if (typeError !== undefined) throw typeError
  return fields
}
