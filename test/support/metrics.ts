// Reads metrics the way an operator does: GET /metrics on the status listener, one series picked by name and labels.
import { request } from 'undici'

/** Label text of a series as Prometheus writes it (`a="1",b="2"`, sorted as prom-client writes them). */
function seriesMatches (line: string, name: string, labels: Record<string, string>): boolean {
  const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
  if (m === null || m[1] !== name) return false
  const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
  return Object.entries(labels).every(([k, v]) => have.get(k) === v)
}

/** The value of the first series of `name` carrying every label in `labels`; undefined when none does. */
export async function metricValue (
  statusUrl: string, name: string, labels: Record<string, string> = {}
): Promise<number | undefined> {
  const res = await request(`${statusUrl}/metrics`)
  const text = await res.body.text()
  const line = text.split('\n').find((l) => seriesMatches(l, name, labels))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** Every label value `label` takes among the series of `name`. */
export async function labelValues (statusUrl: string, name: string, label: string): Promise<string[]> {
  const res = await request(`${statusUrl}/metrics`)
  const text = await res.body.text()
  const re = new RegExp(`^${name}\\{[^}]*\\b${label}="((?:[^"\\\\]|\\\\.)*)"`)
  return text.split('\n').flatMap((l) => { const m = re.exec(l); return m?.[1] === undefined ? [] : [m[1]] })
}
