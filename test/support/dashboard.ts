// The Grafana dashboard in extra/grafana as data: its panels (rows flattened), every PromQL expression it runs
// (panel targets and variable queries), and the series names a /metrics scrape exports, to check one against the other.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { labelValuesExpr, metricNames, parsePromQL } from './promql.js'

export const DASHBOARD_PATH = fileURLToPath(new URL('../../extra/grafana/mtls-ambassador.json', import.meta.url))

export interface Target {
  refId?: string
  expr?: string
  legendFormat?: string
  instant?: boolean
  datasource?: { type?: string, uid?: string }
}
export interface Panel {
  id: number
  type: string
  title: string
  description?: string
  gridPos: { x: number, y: number, w: number, h: number }
  datasource?: { type?: string, uid?: string }
  targets?: Target[]
  panels?: Panel[]
  fieldConfig?: { defaults?: { unit?: string } }
}
export interface Variable {
  name: string
  type: string
  query?: string | { query?: string }
  datasource?: { uid?: string }
}
export interface Dashboard {
  schemaVersion: number
  title: string
  uid: string
  __inputs?: Array<{ name: string, type: string, pluginId: string }>
  panels: Panel[]
  templating: { list: Variable[] }
}

export const loadDashboard = (path = DASHBOARD_PATH): Dashboard => JSON.parse(readFileSync(path, 'utf8')) as Dashboard

/** Every panel, those inside collapsed rows included, rows themselves included. */
export const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])])

export interface Expression { where: string, expr: string }

/** Each PromQL expression of the dashboard: panel targets, then the expressions inside variable queries. */
export function expressions (d: Dashboard): Expression[] {
  const fromPanels = allPanels(d).flatMap((p) => (p.targets ?? [])
    .filter((t) => typeof t.expr === 'string')
    .map((t) => ({ where: `panel "${p.title}" target ${t.refId ?? '?'}`, expr: t.expr ?? '' })))
  const fromVariables = d.templating.list.filter((v) => v.type === 'query').map((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? ''
    return { where: `variable $${v.name}`, expr: labelValuesExpr(q) }
  }).filter((e) => e.expr !== '')
  return [...fromPanels, ...fromVariables]
}

/**
 * The series names a Prometheus text exposition exports: every sample's name, and for a family declared with no
 * sample yet (a labelled counter never incremented) the names Prometheus would store for its type.
 */
export function exportedNames (exposition: string): Set<string> {
  const names = new Set<string>()
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)$/.exec(line)
    if (type !== null) {
      const [, name = '', kind] = type
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s)
      else names.add(name)
      continue
    }
    const sample = /^([A-Za-z_:][\w:]*)(?:\{| )/.exec(line)
    if (sample?.[1] !== undefined) names.add(sample[1])
  }
  return names
}

/** The names `expr` reads that `exported` lacks (throws when the expression does not parse). */
export const missingMetrics = (expr: string, exported: Set<string>): string[] =>
  [...new Set(metricNames(parsePromQL(expr)))].filter((n) => !exported.has(n))

/** Every problem of the dashboard against a scrape: `where: name` for each name no exporter provides. */
export const dashboardProblems = (d: Dashboard, exported: Set<string>): string[] =>
  expressions(d).flatMap((e) => missingMetrics(e.expr, exported).map((n) => `${e.where}: ${n}`))
