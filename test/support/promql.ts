// A PromQL parser for dashboard expressions: numbers, strings, vector selectors with label matchers, range and
// offset, function calls, aggregations with by/without, unary minus and binary operators with bool/on/ignoring/
// group_left/group_right. Grafana variables ($job, $__rate_interval) may stand in label values and ranges.
// Tests use it to list the metric names an expression reads; the dashboard preview evaluates its syntax tree.

export type Matcher = { label: string, op: '=' | '!=' | '=~' | '!~', value: string }
export type Grouping = { without: boolean, labels: string[] }
export type Node =
  | { type: 'number', value: number }
  | { type: 'string', value: string }
  | { type: 'selector', name: string, matchers: Matcher[], range?: string, offset?: string }
  | { type: 'call', fn: string, args: Node[] }
  | { type: 'aggregate', op: string, grouping?: Grouping, args: Node[] }
  | { type: 'unary', op: '-' | '+', expr: Node }
  | { type: 'binary', op: string, bool: boolean, lhs: Node, rhs: Node }

export const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values',
  'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio'])
export const FUNCTIONS = new Set(['abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh',
  'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'double_exponential_smoothing', 'exp', 'floor',
  'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar',
  'histogram_sum', 'holt_winters', 'hour', 'idelta', 'increase', 'info', 'irate', 'label_join', 'label_replace',
  'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time', 'min_over_time', 'minute', 'month', 'pi',
  'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin',
  'sinh', 'sort', 'sort_by_label', 'sort_by_label_desc', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year'])
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or',
  'unless'])
// lowest first; '^' binds right
const PRECEDENCE: string[][] = [['or'], ['and', 'unless'], ['==', '!=', '<=', '>=', '<', '>'], ['+', '-'], ['*', '/', '%', 'atan2'], ['^']]

type Token = { kind: 'ident' | 'number' | 'string' | 'op' | 'range' | 'duration', text: string }

const TOKEN = /\s*(?:(\[[^\]]*\])|(\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:]))|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|Inf|NaN)(?![\w:])|([A-Za-z_:$][\w:$]*)|(==|!=|=~|!~|<=|>=|[-+*/%^<>=(){},]))/y

export function tokenize (src: string): Token[] {
  const out: Token[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break
    const at = TOKEN.lastIndex
    const m = TOKEN.exec(src)
    if (m === null) throw new Error(`PromQL: unexpected character at ${at}: ${src.slice(at, at + 20)}`)
    if (m[1] !== undefined) out.push({ kind: 'range', text: m[1].slice(1, -1).trim() })
    else if (m[2] !== undefined) out.push({ kind: 'duration', text: m[2] })
    else if (m[3] !== undefined) out.push({ kind: 'string', text: m[3] })
    else if (m[4] !== undefined) out.push({ kind: 'number', text: m[4] })
    else if (m[5] !== undefined) out.push({ kind: 'ident', text: m[5] })
    else out.push({ kind: 'op', text: m[6] ?? '' })
  }
  return out
}

const unquote = (s: string): string => s.startsWith('`') ? s.slice(1, -1) : JSON.parse(s.startsWith("'") ? `"${s.slice(1, -1).replaceAll('"', '\\"')}"` : s) as string

class Parser {
  private i = 0
  constructor (private readonly t: Token[], private readonly src: string) {}

  private peek (): Token | undefined { return this.t[this.i] }
  private next (): Token {
    const tok = this.t[this.i++]
    if (tok === undefined) throw new Error(`PromQL: unexpected end of ${this.src}`)
    return tok
  }

  private is (text: string): boolean { const p = this.peek(); return p !== undefined && p.kind !== 'string' && p.text === text }
  private expect (text: string): void {
    const tok = this.next()
    if (tok.text !== text) throw new Error(`PromQL: expected ${text}, got ${tok.text} in ${this.src}`)
  }

  parse (): Node {
    const node = this.binary(0)
    if (this.peek() !== undefined) throw new Error(`PromQL: unexpected ${this.peek()?.text ?? ''} in ${this.src}`)
    return node
  }

  private binary (level: number): Node {
    if (level >= PRECEDENCE.length) return this.unary()
    const ops = PRECEDENCE[level] ?? []
    let lhs = this.binary(level + 1)
    while (ops.some((op) => this.is(op))) {
      const op = this.next().text
      const bool = this.is('bool') ? (this.next(), true) : false
      this.vectorMatching()
      const rhs = op === '^' ? this.binary(level) : this.binary(level + 1)
      lhs = { type: 'binary', op, bool, lhs, rhs }
    }
    return lhs
  }

  /** Skips on(...)/ignoring(...) and group_left(...)/group_right(...): they do not name metrics. */
  private vectorMatching (): void {
    for (const kw of ['on', 'ignoring', 'group_left', 'group_right']) {
      if (this.is(kw)) { this.next(); if (this.is('(')) this.labelList() }
    }
  }

  private unary (): Node {
    if (this.is('-') || this.is('+')) return { type: 'unary', op: this.next().text as '-' | '+', expr: this.unary() }
    return this.postfix(this.primary())
  }

  private postfix (node: Node): Node {
    let n = node
    if (this.peek()?.kind === 'range') {
      if (n.type !== 'selector') throw new Error(`PromQL: subqueries are not supported in ${this.src}`)
      n = { ...n, range: this.next().text }
    }
    if (this.is('offset')) {
      this.next()
      if (n.type !== 'selector') throw new Error(`PromQL: offset after a non-selector in ${this.src}`)
      const sign = this.is('-') ? this.next().text : ''
      const d = this.next()
      if (d.kind !== 'duration' && !d.text.startsWith('$')) throw new Error(`PromQL: offset needs a duration in ${this.src}`)
      n = { ...n, offset: sign + d.text }
    }
    return n
  }

  private primary (): Node {
    const tok = this.next()
    if (tok.kind === 'number') return { type: 'number', value: Number(tok.text) }
    if (tok.kind === 'string') return { type: 'string', value: unquote(tok.text) }
    if (tok.text === '(') { const e = this.binary(0); this.expect(')'); return e }
    if (tok.text === '{') return { type: 'selector', name: '', matchers: this.matchers() }
    if (tok.kind !== 'ident' || KEYWORDS.has(tok.text)) throw new Error(`PromQL: unexpected ${tok.text} in ${this.src}`)
    if (AGGREGATIONS.has(tok.text) && (this.is('(') || this.is('by') || this.is('without'))) return this.aggregate(tok.text)
    if (this.is('(')) {
      if (!FUNCTIONS.has(tok.text)) throw new Error(`PromQL: unknown function ${tok.text} in ${this.src}`)
      return { type: 'call', fn: tok.text, args: this.args() }
    }
    if (tok.text.startsWith('$')) throw new Error(`PromQL: a variable cannot stand for a metric name: ${tok.text}`)
    const matchers = this.is('{') ? (this.next(), this.matchers()) : []
    return { type: 'selector', name: tok.text, matchers }
  }

  private aggregate (op: string): Node {
    let grouping = this.grouping()
    const args = this.args()
    grouping ??= this.grouping()
    return { type: 'aggregate', op, args, ...(grouping === undefined ? {} : { grouping }) }
  }

  private grouping (): Grouping | undefined {
    if (!this.is('by') && !this.is('without')) return undefined
    const without = this.next().text === 'without'
    return { without, labels: this.labelList() }
  }

  private labelList (): string[] {
    this.expect('(')
    const labels: string[] = []
    while (!this.is(')')) {
      const tok = this.next()
      if (tok.kind !== 'ident') throw new Error(`PromQL: label name expected, got ${tok.text} in ${this.src}`)
      labels.push(tok.text)
      if (this.is(',')) this.next()
    }
    this.expect(')')
    return labels
  }

  private args (): Node[] {
    this.expect('(')
    const args: Node[] = []
    while (!this.is(')')) {
      args.push(this.binary(0))
      if (this.is(',')) this.next()
      else if (!this.is(')')) throw new Error(`PromQL: , or ) expected in ${this.src}`)
    }
    this.expect(')')
    return args
  }

  private matchers (): Matcher[] {
    const out: Matcher[] = []
    while (!this.is('}')) {
      const label = this.next()
      const op = this.next().text
      const value = this.next()
      if (label.kind !== 'ident' || !['=', '!=', '=~', '!~'].includes(op) || value.kind !== 'string') {
        throw new Error(`PromQL: bad label matcher near ${label.text} in ${this.src}`)
      }
      out.push({ label: label.text, op: op as Matcher['op'], value: unquote(value.text) })
      if (this.is(',')) this.next()
    }
    this.expect('}')
    return out
  }
}

export function parsePromQL (src: string): Node {
  return new Parser(tokenize(src), src).parse()
}

/** Every metric name the expression reads (the selectors' names, `__name__` matchers of plain names included). */
export function metricNames (node: Node): string[] {
  switch (node.type) {
    case 'selector': {
      // `__name__=~"a|b"` (plain names only) names a and b; another regular expression names no metric for sure
      const byLabel = node.matchers.filter((m) => m.label === '__name__').flatMap((m) =>
        m.op === '=' ? [m.value] : m.op === '=~' && /^[\w:]+(\|[\w:]+)*$/.test(m.value) ? m.value.split('|') : [])
      return [...(node.name === '' ? [] : [node.name]), ...byLabel]
    }
    case 'call':
    case 'aggregate': return node.args.flatMap(metricNames)
    case 'unary': return metricNames(node.expr)
    case 'binary': return [...metricNames(node.lhs), ...metricNames(node.rhs)]
    default: return []
  }
}

/** The expression of a Grafana `label_values(expr, label)` / `label_values(label)` variable query ('' when none). */
export function labelValuesExpr (query: string): string {
  const m = /^\s*label_values\((.*)\)\s*$/s.exec(query)
  if (m === null) throw new Error(`not a label_values() query: ${query}`)
  const inner = m[1] ?? ''
  const comma = inner.lastIndexOf(',')
  return comma < 0 ? '' : inner.slice(0, comma)
}
