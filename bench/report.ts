// The benchmark's report: medians over rounds per (target, scenario), throughput ratios against HAProxy and
// direct, the markdown table, and `bench/results.md` with the machine and versions the numbers came from.
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import type { Sample } from './load.js'

export interface Row { target: string, scenario: string, rounds: Sample[] }

export interface Summary {
  target: string
  scenario: string
  rps: number
  p50: number
  p99: number
  serverCpuUs: number
  clientCpuUs: number
  errors: number
  roundsRps: number[]
}

function median (values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? NaN : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}

export function summarize (rows: Row[]): Summary[] {
  return rows.map((r) => ({
    target: r.target,
    scenario: r.scenario,
    rps: median(r.rounds.map((s) => s.rps)),
    p50: median(r.rounds.map((s) => s.p50)),
    p99: median(r.rounds.map((s) => s.p99)),
    serverCpuUs: median(r.rounds.map((s) => s.serverCpuUs ?? NaN)),
    clientCpuUs: median(r.rounds.map((s) => s.clientCpuUs ?? NaN)),
    errors: r.rounds.reduce((n, s) => n + s.errors, 0),
    roundsRps: r.rounds.map((s) => s.rps)
  }))
}

const fmt = (n: number, digits: number): string => Number.isNaN(n) ? '—' : n.toFixed(digits)
const ratio = (a: number, b: number | undefined): string => b === undefined || b === 0 || !Number.isFinite(a / b) ? '—' : `${(a / b).toFixed(2)}×`

/** The markdown table; ratios are of req/s (higher is faster) against the same scenario's HAProxy and direct rows. */
export function markdownTable (summaries: Summary[], haproxy: string, direct: string): string {
  const lines = [
    '| target | scenario | req/s | median ms | p99 ms | req/s vs HAProxy | req/s vs direct | server CPU µs/req | client CPU µs/req | req/s per round | errors |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|'
  ]
  for (const s of summaries) {
    const of = (target: string): number | undefined =>
      summaries.find((x) => x.target === target && x.scenario === s.scenario)?.rps
    const perRound = s.roundsRps.map((v) => v.toFixed(0)).join(', ')
    lines.push(`| ${s.target} | ${s.scenario} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${ratio(s.rps, of(haproxy))} | ${ratio(s.rps, of(direct))} | ${fmt(s.serverCpuUs, 0)} | ${fmt(s.clientCpuUs, 0)} | ${perRound} | ${s.errors} |`)
  }
  return lines.join('\n')
}

export function cpuModel (): string {
  try {
    const match = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (match?.[1] !== undefined) return match[1].trim()
  } catch { /* not Linux */ }
  return cpus()[0]?.model ?? 'unknown'
}

export interface RunInfo {
  command: string
  settings: string
  haproxy: string
  gatewayFrom: string
  negotiated: Record<string, string>
  notes: string[]
}

/** Writes the results file: table, date, versions, CPU, settings and the exact command. */
/** Heading of the section `npm run bench:tunnel` keeps at the end of the results file (each run keeps the other's). */
export const TUNNEL_SECTION = '\n## Tunnel pairs (`npm run bench:tunnel`)\n'

/** The tunnel section of the results file at `path`, or '' when there is none. */
export async function tunnelSection (path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.includes(TUNNEL_SECTION) ? text.slice(text.indexOf(TUNNEL_SECTION)) : ''
}

export async function writeResults (path: string, table: string, info: RunInfo): Promise<void> {
  const tls = Object.entries(info.negotiated).map(([t, v]) => `${t}: ${v}`).join('; ')
  const text = `# Benchmark results

${table}

- date: ${new Date().toISOString()}
- command: \`${info.command}\`
- settings: ${info.settings}
- Node.js: ${process.version}; gateway run from ${info.gatewayFrom}
- HAProxy: ${info.haproxy}
- CPU: ${cpuModel()} × ${cpus().length} (shared machine: load generator, servers and simulator on the same cores)
- negotiated TLS: ${tls}
${info.notes.map((n) => `- ${n}\n`).join('')}
Figures are the median over rounds; in each round every target ran each scenario once, in a rotating order.
Ratios are of req/s against the same scenario's HAProxy and direct rows (above 1× is faster). Server CPU is the
CPU time of the process the client talks to (the gateway, HAProxy, or the simulator for direct) per request,
warm-up included; client CPU is the load generator's. The simulator's own work is the same behind every target.
`
  await writeFile(path, text + await tunnelSection(path))
}
