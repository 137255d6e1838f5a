// An ordered, duplicate-preserving JSON reader for device input: strings decode as Go's encoding/json decodes them
// (invalid UTF-8 and lone surrogate escapes become U+FFFD), nesting is bounded, and it never recurses or throws.
export type JsonValue =
  | { type: 'object', entries: Array<[string, JsonValue]> }
  | { type: 'array', items: JsonValue[] }
  | { type: 'string', value: string }
  | { type: 'number', text: string }
  | { type: 'boolean', value: boolean }
  | { type: 'null' }

export type JsonRead = { ok: true, value: JsonValue } | { ok: false, reason: 'syntax' | 'depth' }

type Container = Extract<JsonValue, { type: 'object' | 'array' }>
interface Frame { node: Container, key: string }

class Stop extends Error {
  constructor (readonly reason: 'syntax' | 'depth') { super(reason) }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const ESCAPES: Record<number, string> = {
  0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t'
}
const LITERALS: Array<[string, JsonValue]> = [
  ['true', { type: 'boolean', value: true }], ['false', { type: 'boolean', value: false }], ['null', { type: 'null' }]
]

/** Length and allowed second-byte range of a UTF-8 sequence led by `c` (Go's utf8 accept ranges); 0 if invalid. */
function leadRange (c: number): [number, number, number] {
  if (c >= 0xc2 && c <= 0xdf) return [2, 0x80, 0xbf]
  if (c === 0xe0) return [3, 0xa0, 0xbf]
  if (c === 0xed) return [3, 0x80, 0x9f]
  if (c >= 0xe1 && c <= 0xef) return [3, 0x80, 0xbf]
  if (c === 0xf0) return [4, 0x90, 0xbf]
  if (c === 0xf4) return [4, 0x80, 0x8f]
  if (c >= 0xf1 && c <= 0xf3) return [4, 0x80, 0xbf]
  return [0, 0, 0]
}

/** Length of the valid UTF-8 sequence at `i` by Go's utf8.DecodeRune, or 0 where Go would yield U+FFFD for one byte. */
function utf8Length (b: Uint8Array, i: number): number {
  const [n, lo, hi] = leadRange(b[i] ?? 0)
  if (n === 0) return 0
  const second = b[i + 1] ?? 0
  if (second < lo || second > hi) return 0
  for (let k = 2; k < n; k++) {
    const next = b[i + k] ?? 0
    if (next < 0x80 || next > 0xbf) return 0
  }
  return n
}

class Cursor {
  pos = 0
  constructor (readonly b: Buffer) {}

  skipSpace (): void {
    for (let c = this.b[this.pos]; c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = this.b[++this.pos]);
  }

  expect (byte: number): void {
    this.skipSpace()
    if (this.b[this.pos] !== byte) throw new Stop('syntax')
    this.pos++
  }

  hex4 (at: number): number {
    const s = this.b.toString('latin1', at, at + 4)
    return /^[0-9a-fA-F]{4}$/.test(s) ? parseInt(s, 16) : -1
  }

  /** A \uXXXX escape at `pos` (just past the `u`), pairing surrogates the way Go does. */
  unicodeEscape (): string {
    const unit = this.hex4(this.pos)
    if (unit < 0) throw new Stop('syntax')
    this.pos += 4
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit)
    if (unit <= 0xdbff && this.b[this.pos] === BACKSLASH && this.b[this.pos + 1] === 0x75) {
      const low = this.hex4(this.pos + 2)
      if (low >= 0xdc00 && low <= 0xdfff) {
        this.pos += 6
        return String.fromCharCode(unit, low)
      }
    }
    return '\uFFFD'
  }

  string (): string {
    if (this.b[this.pos] !== QUOTE) throw new Stop('syntax')
    const parts: string[] = []
    let run = ++this.pos
    for (;;) {
      const c = this.b[this.pos]
      if (c === undefined || c < 0x20) throw new Stop('syntax')
      if (c < 0x80 && c !== QUOTE && c !== BACKSLASH) { this.pos++; continue }
      const n = c >= 0x80 ? utf8Length(this.b, this.pos) : 0
      if (n > 0) { this.pos += n; continue }
      parts.push(this.b.toString('utf8', run, this.pos))
      this.pos++
      if (c === QUOTE) return parts.join('')
      if (c >= 0x80) parts.push('\uFFFD')
      else parts.push(this.escape())
      run = this.pos
    }
  }

  escape (): string {
    const e = this.b[this.pos++] ?? 0
    if (e === 0x75) return this.unicodeEscape()
    const out = ESCAPES[e]
    if (out === undefined) throw new Stop('syntax')
    return out
  }

  scalar (): JsonValue {
    const c = this.b[this.pos]
    if (c === QUOTE) return { type: 'string', value: this.string() }
    for (const [word, value] of LITERALS) {
      if (this.b.toString('latin1', this.pos, this.pos + word.length) === word) {
        this.pos += word.length
        return value
      }
    }
    return { type: 'number', text: this.number() }
  }

  digits (required: boolean): void {
    const start = this.pos
    for (let c = this.b[this.pos]; c !== undefined && c >= 0x30 && c <= 0x39; c = this.b[++this.pos]);
    if (required && this.pos === start) throw new Stop('syntax')
  }

  /** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, any length (Go skips long numbers in unknown fields). */
  number (): string {
    const start = this.pos
    if (this.b[this.pos] === 0x2d) this.pos++
    const first = this.b[this.pos]
    if (first === 0x30) this.pos++
    else if (first !== undefined && first >= 0x31 && first <= 0x39) this.digits(true)
    else throw new Stop('syntax')
    if (this.b[this.pos] === 0x2e) {
      this.pos++
      this.digits(true)
    }
    if (this.b[this.pos] === 0x65 || this.b[this.pos] === 0x45) {
      this.pos++
      if (this.b[this.pos] === 0x2b || this.b[this.pos] === 0x2d) this.pos++
      this.digits(true)
    }
    return this.b.toString('latin1', start, this.pos)
  }

  key (): string {
    this.skipSpace()
    const k = this.string()
    this.expect(0x3a)
    return k
  }
}

/** The next value: a complete scalar or empty container, or a container left open on the stack (undefined). */
function open (r: Cursor, stack: Frame[], maxDepth: number): JsonValue | undefined {
  r.skipSpace()
  const c = r.b[r.pos]
  if (c !== 0x7b && c !== 0x5b) return r.scalar()
  if (stack.length >= maxDepth) throw new Stop('depth')
  r.pos++
  const node: Container = c === 0x7b ? { type: 'object', entries: [] } : { type: 'array', items: [] }
  r.skipSpace()
  if (r.b[r.pos] === (c === 0x7b ? 0x7d : 0x5d)) {
    r.pos++
    return node
  }
  stack.push({ node, key: node.type === 'object' ? r.key() : '' })
  return undefined
}

/** Attaches `value` to its parent; closes every container that ends here. True when the top-level value is done. */
function close (r: Cursor, stack: Frame[], value: JsonValue): JsonValue | undefined {
  let done = value
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    if (top.node.type === 'object') top.node.entries.push([top.key, done])
    else top.node.items.push(done)
    r.skipSpace()
    const c = r.b[r.pos++]
    if (c === 0x2c) {
      if (top.node.type === 'object') top.key = r.key()
      return undefined
    }
    if (c !== (top.node.type === 'object' ? 0x7d : 0x5d)) throw new Stop('syntax')
    stack.pop()
    done = top.node
  }
  return done
}

/** Reads one JSON text (surrounding whitespace allowed, nothing else) with at most `maxDepth` nested containers. */
export function readJson (bytes: Buffer, maxDepth: number): JsonRead {
  const r = new Cursor(bytes)
  const stack: Frame[] = []
  try {
    for (;;) {
      const scalar = open(r, stack, maxDepth)
      if (scalar === undefined) continue
      const top = close(r, stack, scalar)
      if (top === undefined) continue
      r.skipSpace()
      if (r.pos !== bytes.length) throw new Stop('syntax')
      return { ok: true, value: top }
    }
  } catch (err) {
    return { ok: false, reason: err instanceof Stop ? err.reason : 'syntax' }
  }
}
