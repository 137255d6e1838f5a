// A small PromQL evaluator over recorded /metrics scrapes, for the dashboard preview: instant and range selectors
// (5 min lookback), rate/increase, sum/min/max/avg/count by/without, histogram_quantile, time(), scalar arithmetic
// and one-to-one vector arithmetic. Only what the dashboard uses; anything else throws.
import { parsePromQL, type Matcher, type Node } from '../../test/support/promql.js'

export type Labels = Record<string, string>
export interface Sample { labels: Labels, value: number }
interface Series { labels: Labels, points: Array<[number, number]> }

const LOOKBACK_S = 300
const key = (l: Labels): string => JSON.stringify(Object.entries(l).sort(([a], [b]) => a < b ? -1 : 1))
const PROM_NUMBER: Record<string, number> = { '+Inf': Infinity, '-Inf': -Infinity, NaN }

/** Samples of a text exposition, each series labelled with `extra` (job, instance). */
export function parseExposition (text: string, extra: Labels): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (m === null) continue
    const labels: Labels = { __name__: m[1] ?? '', ...extra }
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1')
    }
    out.push({ labels, value: PROM_NUMBER[m[3] ?? ''] ?? Number(m[3]) })
  }
  return out
}

export class SeriesStore {
  private readonly series = new Map<string, Series>()

  add (t: number, samples: Sample[]): void {
    for (const s of samples) {
      const k = key(s.labels)
      const entry = this.series.get(k) ?? { labels: s.labels, points: [] }
      entry.points.push([t, s.value])
      this.series.set(k, entry)
    }
  }

  select (name: string, matchers: Matcher[]): Series[] {
    const ok = (l: Labels): boolean =>
      (name === '' || l.__name__ === name) && matchers.every((m) => matches(m, l[m.label] ?? ''))
    return [...this.series.values()].filter((s) => ok(s.labels))
  }
}

function matches (m: Matcher, value: string): boolean {
  if (m.op === '=') return value === m.value
  if (m.op === '!=') return value !== m.value
  const re = new RegExp(`^(?:${m.value})$`)
  return m.op === '=~' ? re.test(value) : !re.test(value)
}

const seconds = (d: string): number => {
  let total = 0
  for (const [, n, u] of d.matchAll(/(\d+)(ms|[smhdwy])/g)) {
    total += Number(n) * ({ ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[u ?? 's'] ?? 1)
  }
  return total
}

type Value = { kind: 'scalar', value: number } | { kind: 'vector', samples: Sample[] }

const withoutName = (l: Labels): Labels => { const { __name__: _, ...rest } = l; return rest }

/** Counter increase over the points in the window, counter resets counted as restarts from 0. */
function increaseOf (points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined
  let total = 0
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1]?.[1] ?? 0
    const cur = points[i]?.[1] ?? 0
    total += cur >= prev ? cur - prev : cur
  }
  return total
}

function rangeFn (fn: string, node: Node, store: SeriesStore, t: number): Sample[] {
  if (node.type !== 'selector' || node.range === undefined) throw new Error(`${fn}() needs a range selector`)
  const range = seconds(node.range)
  return store.select(node.name, node.matchers).flatMap((s) => {
    const points = s.points.filter(([pt]) => pt > t - range && pt <= t)
    const inc = increaseOf(points)
    const span = (points.at(-1)?.[0] ?? 0) - (points[0]?.[0] ?? 0)
    if (inc === undefined || span <= 0) return []
    const rate = inc / span
    return [{ labels: withoutName(s.labels), value: fn === 'rate' ? rate : rate * range }]
  })
}

function aggregate (op: string, grouping: { without: boolean, labels: string[] } | undefined, v: Sample[]): Sample[] {
  const groups = new Map<string, { labels: Labels, values: number[] }>()
  for (const s of v) {
    const base = withoutName(s.labels)
    const labels: Labels = grouping === undefined
      ? {}
      : grouping.without
        ? Object.fromEntries(Object.entries(base).filter(([k]) => !grouping.labels.includes(k)))
        : Object.fromEntries(grouping.labels.filter((k) => k in base).map((k) => [k, base[k] ?? '']))
    const g = groups.get(key(labels)) ?? { labels, values: [] }
    g.values.push(s.value)
    groups.set(key(labels), g)
  }
  const reduce: Record<string, (xs: number[]) => number> = {
    sum: (xs) => xs.reduce((a, b) => a + b, 0),
    min: (xs) => Math.min(...xs),
    max: (xs) => Math.max(...xs),
    avg: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
    count: (xs) => xs.length
  }
  const f = reduce[op]
  if (f === undefined) throw new Error(`aggregation ${op} is not supported by the preview`)
  return [...groups.values()].map((g) => ({ labels: g.labels, value: f(g.values) }))
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank. */
function quantile (q: number, v: Sample[]): Sample[] {
  const groups = new Map<string, { labels: Labels, buckets: Array<[number, number]> }>()
  for (const s of v) {
    const { le, ...rest } = withoutName(s.labels)
    if (le === undefined) continue
    const g = groups.get(key(rest)) ?? { labels: rest, buckets: [] }
    g.buckets.push([PROM_NUMBER[le] ?? Number(le), s.value])
    groups.set(key(rest), g)
  }
  return [...groups.values()].flatMap((g) => {
    const b = g.buckets.sort(([a], [c]) => a - c)
    const total = b.at(-1)?.[1] ?? 0
    if (total <= 0) return []
    const rank = q * total
    const i = b.findIndex(([, count]) => count >= rank)
    const [upper = 0, count = 0] = b[i] ?? []
    if (upper === Infinity) return [{ labels: g.labels, value: b[i - 1]?.[0] ?? 0 }]
    const [lower, below] = i > 0 ? b[i - 1] ?? [0, 0] : [0, 0]
    const value = count === below ? upper : lower + (upper - lower) * (rank - below) / (count - below)
    return [{ labels: g.labels, value }]
  })
}

function arithmetic (op: string, a: number, b: number): number {
  switch (op) {
    case '+': return a + b
    case '-': return a - b
    case '*': return a * b
    case '/': return a / b
    default: throw new Error(`operator ${op} is not supported by the preview`)
  }
}

function binary (op: string, l: Value, r: Value): Value {
  if (l.kind === 'scalar' && r.kind === 'scalar') return { kind: 'scalar', value: arithmetic(op, l.value, r.value) }
  const each = (v: Sample[], f: (x: number) => number): Value =>
    ({ kind: 'vector', samples: v.map((s) => ({ labels: withoutName(s.labels), value: f(s.value) })) })
  if (l.kind === 'scalar' && r.kind === 'vector') return each(r.samples, (x) => arithmetic(op, l.value, x))
  if (l.kind === 'vector' && r.kind === 'scalar') return each(l.samples, (x) => arithmetic(op, x, r.value))
  if (l.kind !== 'vector' || r.kind !== 'vector') throw new Error('unreachable')
  const right = new Map(r.samples.map((s) => [key(withoutName(s.labels)), s.value]))
  return {
    kind: 'vector',
    samples: l.samples.flatMap((s) => {
      const other = right.get(key(withoutName(s.labels)))
      return other === undefined ? [] : [{ labels: withoutName(s.labels), value: arithmetic(op, s.value, other) }]
    })
  }
}

function vectorOf (v: Value): Sample[] {
  if (v.kind !== 'vector') throw new Error('a vector was expected')
  return v.samples
}

function evalNode (node: Node, store: SeriesStore, t: number): Value {
  switch (node.type) {
    case 'number': return { kind: 'scalar', value: node.value }
    case 'selector': {
      if (node.range !== undefined) throw new Error('a range selector needs rate() or increase()')
      const samples = store.select(node.name, node.matchers).flatMap((s) => {
        const last = s.points.filter(([pt]) => pt <= t && pt > t - LOOKBACK_S).at(-1)
        return last === undefined ? [] : [{ labels: s.labels, value: last[1] }]
      })
      return { kind: 'vector', samples }
    }
    case 'call': return callNode(node.fn, node.args, store, t)
    case 'aggregate': {
      const inner = vectorOf(evalNode(node.args.at(-1) as Node, store, t))
      return { kind: 'vector', samples: aggregate(node.op, node.grouping, inner) }
    }
    case 'unary': return binary('*', { kind: 'scalar', value: node.op === '-' ? -1 : 1 }, evalNode(node.expr, store, t))
    case 'binary': return binary(node.op, evalNode(node.lhs, store, t), evalNode(node.rhs, store, t))
    default: throw new Error(`${node.type} is not supported by the preview`)
  }
}

function callNode (fn: string, args: Node[], store: SeriesStore, t: number): Value {
  if (fn === 'time') return { kind: 'scalar', value: t }
  if (fn === 'rate' || fn === 'increase') return { kind: 'vector', samples: rangeFn(fn, args[0] as Node, store, t) }
  if (fn === 'histogram_quantile') {
    const q = evalNode(args[0] as Node, store, t)
    if (q.kind !== 'scalar') throw new Error('histogram_quantile needs a scalar')
    return { kind: 'vector', samples: quantile(q.value, vectorOf(evalNode(args[1] as Node, store, t))) }
  }
  throw new Error(`function ${fn} is not supported by the preview`)
}

/** The expression (Grafana variables set to "all", `$__rate_interval` to `rateInterval`) at time `t` (seconds). */
export function evaluate (expr: string, store: SeriesStore, t: number, rateInterval: string): Sample[] {
  const concrete = expr.replaceAll('$__rate_interval', rateInterval).replace(/\$\w+/g, '.*')
  const v = evalNode(parsePromQL(concrete), store, t)
  return v.kind === 'vector' ? v.samples : [{ labels: {}, value: v.value }]
}
