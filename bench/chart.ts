// The ratio chart as a hand-written SVG: one horizontal bar per ratio on a common scale, a line at 1× and a mark
// at each bar's target, the value printed at the bar's end. Pure (text in, text out).
import type { Bar } from './results.js'

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const LABEL_W = 400
const PLOT_W = 460
const ROW_H = 22
const TOP = 40

/** An SVG document of `bars` (ratios; bars over their limit, or under it for "higher is better" ones, in red). */
export function ratioChart (bars: Bar[], title: string): string {
  const finite = bars.filter((b) => Number.isFinite(b.value))
  const max = Math.max(2, ...finite.map((b) => Math.max(b.value, b.limit ?? 0))) * 1.1
  const xOf = (v: number): number => LABEL_W + (v / max) * PLOT_W
  const height = TOP + finite.length * ROW_H + 30
  const width = LABEL_W + PLOT_W + 70
  const rows = finite.map((b, i) => {
    const y = TOP + i * ROW_H
    const higherIsBetter = b.label.includes('higher is better')
    const bad = b.limit !== undefined && (higherIsBetter ? b.value < b.limit : b.value > b.limit)
    const mark = b.limit === undefined
      ? ''
      : `<line class="limit" x1="${xOf(b.limit).toFixed(1)}" y1="${y}" x2="${xOf(b.limit).toFixed(1)}" y2="${y + ROW_H - 4}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`
    return `<g class="bar">
  <text x="${LABEL_W - 8}" y="${y + 14}" text-anchor="end">${escapeXml(b.label)}</text>
  <rect x="${LABEL_W}" y="${y + 2}" width="${(xOf(b.value) - LABEL_W).toFixed(1)}" height="${ROW_H - 8}" fill="${bad ? '#c0392b' : '#2e86c1'}"/>
  ${mark}
  <text x="${(xOf(b.value) + 4).toFixed(1)}" y="${y + 14}">${b.value.toFixed(2)}×</text>
</g>`
  })
  const one = xOf(1).toFixed(1)
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>
<line x1="${one}" y1="${TOP - 6}" x2="${one}" y2="${height - 24}" stroke="#888"/>
<text x="${one}" y="${height - 10}" text-anchor="middle">1×</text>
${rows.join('\n')}
</svg>
`
}
