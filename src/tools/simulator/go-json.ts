// The decoding half of the simulator's own rendition of Go's encoding/json, as Mender's services use it: values as
// interface{} holds them (maps with the last duplicate winning, float64 numbers) and struct filling by Go's
// field-matching rule (exact name, else foldName), built on go-json-scan.ts.
import { lex, SyntaxFault, type Token } from './go-json-scan.js'
import { goFold } from './go-marshal.js'

export type GoResult<T> = { ok: true, value: T } | { ok: false, message: string }

/** Builds the interface{} value starting at token `i` (maps last-key-wins, float64 numbers); [value, next index]. */
function buildValue (tokens: Token[], start: number): [unknown, number] {
  const stack: Array<{ into: Record<string, unknown> | unknown[], key: string }> = []
  let i = start
  for (;;) {
    const t = tokens[i++] as Token
    let value: unknown
    if (t.kind === '{' || t.kind === '[') {
      const into = t.kind === '{' ? {} : []
      const close = t.kind === '{' ? '}' : ']'
      if (tokens[i]?.kind !== close) {
        const key = t.kind === '{' ? (tokens[i] as { value: string }).value : ''
        if (t.kind === '{') i += 2
        stack.push({ into, key })
        continue
      }
      i++
      value = into
    } else if (t.kind === 'number') {
      value = Number(t.text)
      if (!Number.isFinite(value)) throw new SyntaxFault(`json: cannot unmarshal number ${t.text} into float64`)
    } else value = t.kind === 'string' ? t.value : t.kind === 'null' ? null : t.kind === 'true'
    for (;;) {
      const top = stack.at(-1)
      if (top === undefined) return [value, i]
      if (Array.isArray(top.into)) top.into.push(value)
      else Object.defineProperty(top.into, top.key, { value, enumerable: true, writable: true, configurable: true })
      if (tokens[i++]?.kind === ',') {
        if (!Array.isArray(top.into)) { top.key = (tokens[i] as { value: string }).value; i += 2 }
        break
      }
      value = stack.pop()?.into
    }
  }
}

/** json.Unmarshal into interface{}. */
export function goUnmarshal (body: Buffer): GoResult<unknown> {
  try {
    return { ok: true, value: buildValue(lex(body), 0)[0] }
  } catch (err) {
    return { ok: false, message: err instanceof SyntaxFault ? err.message : String(err) }
  }
}

/** Index just past the value starting at `i` (values are known to be well formed). */
function skipValue (tokens: Token[], i: number): number {
  let depth = 0
  do {
    const k = tokens[i++]?.kind
    if (k === '{' || k === '[') depth++
    else if (k === '}' || k === ']') depth--
  } while (depth > 0)
  return i
}

/**
 * json.Unmarshal into a struct of string fields: an exact key match first, else Go's case-insensitive one; every
 * later match overwrites; null leaves a field as it is; another type is an error (decoding still finishes).
 */
export function goUnmarshalStrings<F extends string> (body: Buffer, type: string,
  fields: readonly F[]): GoResult<Record<F, string>> {
  const out = Object.fromEntries(fields.map((f) => [f, ''])) as Record<F, string>
  try {
    const tokens = lex(body)
    const first = tokens[0]?.kind
    if (first === 'null') return { ok: true, value: out }
    if (first !== '{') return { ok: false, message: `json: cannot unmarshal ${first ?? 'nothing'} into ${type}` }
    let error: string | undefined
    for (let i = 1; tokens[i]?.kind === 'string'; i++) {
      const key = (tokens[i] as { value: string }).value
      const field = fields.find((f) => f === key) ?? fields.find((f) => goFold(f) === goFold(key))
      const v = tokens[i + 2] as Token
      if (field !== undefined && v.kind === 'string') out[field] = v.value
      else if (field !== undefined && v.kind !== 'null') error ??= `json: cannot unmarshal ${v.kind} into ${field}`
      i = skipValue(tokens, i + 2)
      if (tokens[i]?.kind !== ',') break
    }
    return error === undefined ? { ok: true, value: out } : { ok: false, message: error }
  } catch (err) {
    return { ok: false, message: err instanceof SyntaxFault ? err.message : String(err) }
  }
}
