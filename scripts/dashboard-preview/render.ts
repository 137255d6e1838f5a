// Renders the dashboard's panels as one static HTML page (inline SVG, Grafana's dark colours and grid) from the values
// the preview evaluator computes over recorded scrapes: time series as lines, stats as coloured values, bar gauges as
// bars. A preview of what the panels show, labelled as such; it is not Grafana.
import type { Dashboard, Panel, Target } from '../../test/support/dashboard.js'
import { evaluate, type Labels, type SeriesStore } from './evaluate.js'

const WIDTH = 1600
const UNIT_H = 30
const GAP = 6
const HEADER_H = 78
const PALETTE = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9', '#FADE2A', '#37872D', '#C4162A']
const NAMED: Record<string, string> = { red: '#F2495C', orange: '#FF9830', green: '#73BF69', blue: '#5794F2' }

export interface RenderInput {
  dashboard: Dashboard
  store: SeriesStore
  times: number[]
  rateInterval: string
  note: string
}

interface Step { color: string, value: number | null }
interface FieldDefaults {
  unit?: string
  min?: number
  thresholds?: { steps: Step[] }
  mappings?: Array<{ options: Record<string, { text: string }> }>
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c] ?? c))
const num = (v: number): string =>
  Number.isInteger(v) && Math.abs(v) < 1e4 ? String(v) : Number(v.toPrecision(3)).toString()

function scaled (v: number, steps: Array<[number, string]>): string {
  for (const [size, unit] of steps) if (Math.abs(v) >= size) return `${num(v / size)} ${unit}`
  const last = steps.at(-1) ?? [1, '']
  return `${num(v / last[0])} ${last[1]}`
}

/** A value in the panel's unit, roughly as Grafana writes it. */
export function format (v: number, unit = 'short'): string {
  if (!Number.isFinite(v)) return String(v)
  switch (unit) {
    case 's': return v === 0 ? '0 s' : scaled(v, [[31536000, 'year'], [86400, 'day'], [3600, 'hour'], [60, 'min'], [1, 's'], [0.001, 'ms'], [0.000001, 'µs']])
    case 'reqps': return `${num(v)} req/s`
    case 'ops': return `${num(v)} ops/s`
    case 'Bps': return `${scaled(v, [[1e6, 'MB'], [1e3, 'kB'], [1, 'B']])}/s`
    case 'bytes': return scaled(v, [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']])
    case 'percentunit': return `${num(v * 100)}%`
    default: return Math.abs(v) >= 1000 ? scaled(v, [[1e6, 'M'], [1e3, 'K']]) : num(v)
  }
}

const legendOf = (t: Target, labels: Labels): string => {
  const text = (t.legendFormat ?? '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => labels[k] ?? '')
  return text.trim() !== '' ? text.trim() : Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ') || 'value'
}

/** Each target's series over the recorded times: legend → [t, value] points. */
function seriesOf (p: Panel, input: RenderInput, times: number[]): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>()
  for (const t of p.targets ?? []) {
    for (const time of times) {
      for (const s of evaluate(t.expr ?? '', input.store, time, input.rateInterval)) {
        if (!Number.isFinite(s.value)) continue
        const name = legendOf(t, s.labels)
        out.set(name, [...(out.get(name) ?? []), [time, s.value]])
      }
    }
  }
  return out
}

const defaultsOf = (p: Panel): FieldDefaults => (p.fieldConfig?.defaults ?? {}) as FieldDefaults
function thresholdColor (d: FieldDefaults, v: number): string {
  let color = '#5794F2'
  for (const s of d.thresholds?.steps ?? []) if (s.value === null || v >= s.value) color = NAMED[s.color] ?? s.color
  return color
}

function timeseries (p: Panel, input: RenderInput, w: number, h: number): string {
  const series = [...seriesOf(p, input, input.times)]
  const legendRows = Math.min(3, Math.ceil(series.length / 3))
  const plotH = h - 34 - legendRows * 16
  const plotW = w - 70
  const values = series.flatMap(([, pts]) => pts.map(([, v]) => v))
  const d = defaultsOf(p)
  const lo = Math.min(d.min ?? Infinity, ...values, 0)
  const hi0 = Math.max(...values, lo)
  const hi = hi0 === lo ? lo + 1 : hi0 + (hi0 - lo) * 0.08
  const t0 = input.times[0] ?? 0
  const t1 = input.times.at(-1) ?? 1
  const x = (t: number): number => 62 + (t - t0) / (t1 - t0) * plotW
  const y = (v: number): number => 6 + (1 - (v - lo) / (hi - lo)) * plotH
  const grid = [0, 0.5, 1].map((f) => {
    const v = lo + (hi - lo) * f
    return `<line x1="62" x2="${62 + plotW}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="58" y="${y(v) + 4}" class="axis" text-anchor="end">${esc(format(v, d.unit))}</text>`
  }).join('')
  const clock = (t: number): string => new Date(t * 1000).toISOString().slice(11, 19)
  const xs = `<text x="62" y="${plotH + 20}" class="axis">${clock(t0)}</text><text x="${62 + plotW}" y="${plotH + 20}" class="axis" text-anchor="end">${clock(t1)}</text>`
  const lines = series.map(([, pts], i) => `<polyline fill="none" stroke="${PALETTE[i % PALETTE.length] ?? '#fff'}" stroke-width="1.5" points="${pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`).join('')
  const legend = series.length === 0
    ? '<div class="nodata">No data</div>'
    : `<div class="legend">${series.slice(0, 9).map(([name], i) => `<span><i style="background:${PALETTE[i % PALETTE.length] ?? '#fff'}"></i>${esc(name)}</span>`).join('')}${series.length > 9 ? `<span>+${series.length - 9} more</span>` : ''}</div>`
  return `<svg width="${w}" height="${plotH + 26}">${grid}${xs}${lines}</svg>${legend}`
}

function stat (p: Panel, input: RenderInput): string {
  const last = input.times.at(-1) ?? 0
  const v = evaluate(p.targets?.[0]?.expr ?? '', input.store, last, input.rateInterval)[0]?.value
  const d = defaultsOf(p)
  if (v === undefined) return '<div class="stat" style="background:#22252b">No data</div>'
  const mapped = d.mappings?.flatMap((m) => Object.entries(m.options)).find(([k]) => Number(k) === v)?.[1].text
  return `<div class="stat" style="background:${thresholdColor(d, v)}">${esc(mapped ?? format(v, d.unit))}</div>`
}

function bargauge (p: Panel, input: RenderInput, w: number): string {
  const last = input.times.at(-1) ?? 0
  const d = defaultsOf(p)
  const bars = (p.targets ?? []).flatMap((t) => evaluate(t.expr ?? '', input.store, last, input.rateInterval)
    .map((s) => ({ name: legendOf(t, s.labels), value: s.value })))
  if (bars.length === 0) return '<div class="nodata">No data</div>'
  const max = Math.max(...bars.map((b) => b.value), 1)
  return bars.slice(0, 8).map((b) => `<div class="bar"><div class="bar-name">${esc(b.name)}</div><div class="bar-track" style="width:${w - 24}px">` +
    `<div style="width:${Math.max(2, b.value / max * 100)}%;background:${thresholdColor(d, b.value)}"></div><span>${esc(format(b.value, d.unit))}</span></div></div>`).join('')
}

function panelHtml (p: Panel, input: RenderInput): string {
  const colW = WIDTH / 24
  const left = p.gridPos.x * colW + GAP / 2
  const top = HEADER_H + p.gridPos.y * UNIT_H + GAP / 2
  const w = p.gridPos.w * colW - GAP
  const h = p.gridPos.h * UNIT_H - GAP
  if (p.type === 'row') return `<div class="row" style="left:${left}px;top:${top}px;width:${w}px">${esc(p.title)}</div>`
  const body = p.type === 'stat' ? stat(p, input) : p.type === 'bargauge' ? bargauge(p, input, w) : timeseries(p, input, w - 12, h - 28)
  return `<div class="panel" style="left:${left}px;top:${top}px;width:${w}px;height:${h}px"><div class="title">${esc(p.title)}</div>${body}</div>`
}

const CSS = `body{margin:0;background:#111217;color:#ccccdc;font:12px Inter,Helvetica,Arial,sans-serif}
.head{position:absolute;left:8px;top:8px;right:8px}.head h1{font-size:18px;margin:0 0 6px;color:#fff;font-weight:500}
.note{background:#3d2f00;border:1px solid #f2cc0c;color:#f2cc0c;padding:5px 8px;border-radius:2px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;overflow:hidden;box-sizing:border-box;padding:4px 6px}
.title{font-weight:500;color:#fff;margin-bottom:4px;white-space:nowrap;overflow:hidden}
.row{position:absolute;font-size:14px;font-weight:500;color:#fff;border-bottom:1px solid #2c3235;padding-top:4px}
.grid{stroke:#2c3235}.axis{fill:#9fa7b3;font-size:10px}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;color:#ccccdc;font-size:11px}.legend i{display:inline-block;width:12px;height:3px;margin:0 4px 3px 0;vertical-align:middle}
.stat{position:absolute;left:6px;right:6px;top:24px;bottom:6px;display:flex;align-items:center;justify-content:center;font-size:26px;font-weight:500;color:#fff;border-radius:2px}
.nodata{color:#9fa7b3;text-align:center;padding-top:30px}
.bar{margin:2px 0 5px}.bar-name{font-size:11px;color:#ccccdc;white-space:nowrap;overflow:hidden}.bar-track{position:relative;height:16px;background:#22252b}
.bar-track div{height:100%}.bar-track span{position:absolute;right:4px;top:1px;font-size:11px;color:#fff}`

/** The page, and the height it needs. */
export function renderPage (input: RenderInput): { html: string, height: number } {
  const panels = input.dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
  const height = HEADER_H + Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * UNIT_H)) + 10
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>${CSS}</style></head><body style="width:${WIDTH}px;height:${height}px">` +
    `<div class="head"><h1>${esc(input.dashboard.title)}</h1><div class="note">${esc(input.note)}</div></div>` +
    panels.map((p) => panelHtml(p, input)).join('') + '</body></html>'
  return { html, height }
}
