// The simulator's own rendition of Go's encoding/json encoding of interface{} values, as Mender's JsonSort uses it to
// normalise identities (map keys sorted by bytes, HTML-safe escaping, float64 formatting), and of Go's field-name
// folding (unicode.ToUpper(unicode.ToLower(r)) per rune, as encoding/json's foldName since Go 1.21).

/** A single code point's simple case mapping by `map`, or the code point itself when JS maps it to several. */
function simpleMap (ch: string, map: (s: string) => string): string {
  const mapped = map(ch)
  return [...mapped].length === 1 ? mapped : ch
}

/** Go's foldName: ASCII upper-cased, every other rune through ToUpper(ToLower(r)). */
export function goFold (name: string): string {
  let out = ''
  for (const ch of name) {
    if (ch < '\u0080') {
      out += ch.toUpperCase()
      continue
    }
    // U+0130's simple lowercase is 'i'; JS's full mapping appends a combining dot
    const lower = ch === '\u0130' ? 'i' : simpleMap(ch, (s) => s.toLowerCase())
    out += simpleMap(lower, (s) => s.toUpperCase())
  }
  return out
}

const hex4 = (n: number): string => `\\u${n.toString(16).padStart(4, '0')}`

/** A Go-encoded JSON string: ", \ and control characters escaped (\b \f \n \r \t short), <, >, &, U+2028/9 too. */
export function goString (s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.charCodeAt(0)
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || ch === '\u2028' || ch === '\u2029') out += hex4(c)
    else out += ch
  }
  return `${out}"`
}

/** Go's float64 encoding: shortest digits, 'f' style from 1e-6 to below 1e21, else 'e' style (e-07 written e-7). */
export function goFloat (n: number): string {
  if (Object.is(n, -0)) return '-0'
  const abs = Math.abs(n)
  // toExponential() gives the shortest round-trip digits with a minimal exponent, as Go's cleaned-up 'e' format
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) return n.toExponential()
  // below 1e21, JS writes numbers from 1e-6 in plain decimals, the shortest that round-trip (Go's 'f', -1)
  return String(n)
}

const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

type Work = { text: string } | { value: unknown }

/** json.Marshal of a decoded interface{} value, iteratively (identities may nest as deep as Go's 10,000). */
export function goMarshal (value: unknown): string {
  const out: string[] = []
  const work: Work[] = [{ value }]
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if ('text' in item) { out.push(item.text); continue }
    const v = item.value
    if (Array.isArray(v)) {
      const parts: Work[] = [{ text: '[' }]
      v.forEach((x, i) => parts.push(...(i > 0 ? [{ text: ',' }] : []), { value: x }))
      work.push(...[...parts, { text: ']' }].reverse())
    } else if (v !== null && typeof v === 'object') {
      const obj = v as Record<string, unknown>
      const parts: Work[] = [{ text: '{' }]
      Object.keys(obj).sort(byUtf8).forEach((k, i) => {
        parts.push({ text: `${i > 0 ? ',' : ''}${goString(k)}:` }, { value: obj[k] })
      })
      work.push(...[...parts, { text: '}' }].reverse())
    } else if (typeof v === 'number') out.push(goFloat(v))
    else if (typeof v === 'string') out.push(goString(v))
    else out.push(v === true ? 'true' : v === false ? 'false' : 'null')
  }
  return out.join('')
}
