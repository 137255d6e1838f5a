// The scanning half of the simulator's own rendition of Go's encoding/json: a tokenizer with Go's string unquoting
// (bad UTF-8 and lone surrogates → U+FFFD) and Go's whole-input validity check (checkValid, nesting ≤ 10,000).
export type Token =
  | { kind: '{' | '}' | '[' | ']' | ':' | ',' | 'true' | 'false' | 'null' }
  | { kind: 'string', value: string }
  | { kind: 'number', text: string }

export class SyntaxFault extends Error {}

const GO_MAX_DEPTH = 10000
const PUNCT = new Set(['{', '}', '[', ']', ':', ','])
const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t'
}

/** One code point of UTF-8 at `i` as Go's utf8.DecodeRune reads it: [code point, bytes used]; U+FFFD, 1 if invalid. */
function decodeRune (b: Buffer, i: number): [number, number] {
  const c0 = b[i] ?? 0
  const size = c0 >= 0xf8 ? 0 : c0 >= 0xf0 ? 4 : c0 >= 0xe0 ? 3 : c0 >= 0xc0 ? 2 : 0
  if (size === 0 || i + size > b.length) return [0xfffd, 1]
  let cp = c0 & (0x7f >> size)
  for (let k = 1; k < size; k++) {
    const c = b[i + k] ?? 0
    if ((c & 0xc0) !== 0x80) return [0xfffd, 1]
    cp = (cp << 6) | (c & 0x3f)
  }
  const min = [0, 0, 0x80, 0x800, 0x10000][size] ?? 0
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [0xfffd, 1]
  return [cp, size]
}

function tokenizeString (b: Buffer, start: number): [string, number] {
  let out = ''
  let i = start + 1
  for (;;) {
    if (i >= b.length) throw new SyntaxFault('unexpected end of JSON input')
    const c = b[i] ?? 0
    if (c === 0x22) return [out, i + 1]
    if (c < 0x20) throw new SyntaxFault('invalid character in string literal')
    if (c === 0x5c) {
      const e = String.fromCharCode(b[i + 1] ?? 0)
      if (e === 'u') {
        const hex = b.toString('latin1', i + 2, i + 6)
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new SyntaxFault('invalid character in \\u escape')
        const unit = parseInt(hex, 16)
        i += 6
        const next = b.toString('latin1', i, i + 6)
        const low = /^\\u[0-9a-fA-F]{4}$/.test(next) ? parseInt(next.slice(2), 16) : -1
        if (unit >= 0xd800 && unit < 0xdc00 && low >= 0xdc00 && low < 0xe000) {
          out += String.fromCharCode(unit, low)
          i += 6
        } else out += unit >= 0xd800 && unit < 0xe000 ? '\uFFFD' : String.fromCharCode(unit)
        continue
      }
      const simple = SIMPLE_ESCAPES[e]
      if (simple === undefined) throw new SyntaxFault('invalid character in string escape code')
      out += simple
      i += 2
      continue
    }
    const [cp, size] = c < 0x80 ? [c, 1] : decodeRune(b, i)
    out += String.fromCodePoint(cp)
    i += size
  }
}

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/

/** A literal or number at `i`: the run of characters that can form one, which must then be one exactly. */
function readWord (b: Buffer, i: number): string {
  let end = i
  while (end < b.length && /[-+.0-9a-zA-Z]/.test(String.fromCharCode(b[end] ?? 0))) end++
  const w = b.toString('latin1', i, end)
  if (w === 'true' || w === 'false' || w === 'null' || NUMBER.test(w)) return w
  const ch = JSON.stringify(String.fromCharCode(b[i] ?? 0))
  throw new SyntaxFault(`invalid character ${ch} looking for beginning of value`)
}

/** Splits the input into tokens (Go's scanner alphabet); throws a SyntaxFault on any stray character. */
function tokenize (b: Buffer): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < b.length) {
    const ch = String.fromCharCode(b[i] ?? 0)
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') { i++; continue }
    if (PUNCT.has(ch)) { tokens.push({ kind: ch as '{' }); i++; continue }
    if (ch === '"') {
      const [value, end] = tokenizeString(b, i)
      tokens.push({ kind: 'string', value })
      i = end
      continue
    }
    const w = readWord(b, i)
    tokens.push(w === 'true' || w === 'false' || w === 'null' ? { kind: w } : { kind: 'number', text: w })
    i += w.length
  }
  return tokens
}

const isValueStart = (t: Token | undefined): boolean => t !== undefined && !['}', ']', ':', ','].includes(t.kind)

/** Go's checkValid: exactly one well-formed value, nesting at most 10,000 deep. */
function checkValid (tokens: Token[]): void {
  const stack: Array<'{' | '['> = []
  let i = 0
  const need = (ok: boolean, what: string): void => { if (!ok) throw new SyntaxFault(what) }
  const key = (): void => {
    need(tokens[i]?.kind === 'string' && tokens[i + 1]?.kind === ':', 'invalid character looking for object key')
    i += 2
  }
  for (;;) {
    const t = tokens[i++]
    need(t !== undefined, 'unexpected end of JSON input')
    need(isValueStart(t), `invalid character '${t?.kind ?? ''}' looking for beginning of value`)
    if (t?.kind === '{' || t?.kind === '[') {
      stack.push(t.kind)
      need(stack.length <= GO_MAX_DEPTH, 'exceeded max depth')
      if (tokens[i]?.kind !== (t.kind === '{' ? '}' : ']')) {
        if (t.kind === '{') key()
        continue
      }
      i++
      stack.pop()
    }
    for (let open = stack.at(-1); ; open = stack.at(-1)) {
      if (open === undefined) return need(i === tokens.length, 'invalid character after top-level value')
      const sep = tokens[i++]
      need(sep !== undefined, 'unexpected end of JSON input')
      if (sep?.kind === ',') {
        if (open === '{') key()
        break
      }
      need(sep?.kind === (open === '{' ? '}' : ']'), 'invalid character after value')
      stack.pop()
    }
  }
}

/** The tokens of a valid JSON text; throws a SyntaxFault (Go's SyntaxError) otherwise. */
export function lex (body: Buffer): Token[] {
  const tokens = tokenize(body)
  checkValid(tokens)
  return tokens
}
