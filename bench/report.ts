// The benchmark's report: markdown tables (per scenario and target: server CPU per request or handshake, its ratio
// against HAProxy, nginx and the bare Node server, req/s, p50/p99, the load generator's CPU; idle memory; tunnel
// pairs; workers; the targets, met or not) and the files bench/results.{md,json} and bench/ratios.svg.
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { ratioChart } from './chart.js'
import {
  BARE, chartBars, DIRECT, evaluateTargets, GATEWAY, HAPROXY, NGINX, ratio, REFERENCES, returnedPct, SCENARIOS,
  type Results, type ScenarioId, type Summary
} from './results.js'

const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : '—'
const times = (n: number): string => Number.isFinite(n) ? `${n.toFixed(2)}×` : '—'

/** The headline: per scenario, every target's server CPU per request or handshake and the gateway's ratios. */
export function headlineTable (s: Summary[]): string {
  const lines = [
    '| scenario (server CPU µs per …) | gateway | HAProxy | nginx | bare Node | direct | gateway ÷ HAProxy | ÷ nginx | ' +
      '÷ bare Node | gateway req/s | gateway p50 / p99 ms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
  ]
  for (const id of Object.keys(SCENARIOS) as ScenarioId[]) {
    const of = (t: string): Summary | undefined => s.find((x) => x.scenario === id && x.target === t)
    const gw = of(GATEWAY)
    if (gw === undefined) continue
    const cpu = (t: string): number => of(t)?.serverCpuUs ?? NaN
    lines.push(`| ${SCENARIOS[id].label} (${SCENARIOS[id].unit}) | ${[GATEWAY, HAPROXY, NGINX, BARE, DIRECT].map((t) => fmt(cpu(t))).join(' | ')} | ` +
      `${REFERENCES.map((t) => times(ratio(cpu(GATEWAY), cpu(t)))).join(' | ')} | ${fmt(gw.rps)} | ${fmt(gw.p50Ms, 1)} / ${fmt(gw.p99Ms, 1)} |`)
  }
  return lines.join('\n')
}

/** Server CPU per request/handshake and its ratios, with throughput and latency beside them. */
export function scenarioTable (s: Summary[]): string {
  const lines = [
    '| scenario | target | server CPU µs | vs HAProxy | vs nginx | vs bare Node | req/s | p50 ms | p99 ms | ' +
      'load-gen CPU µs | resumed | errors (socket/status) | server CPU µs per round |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|'
  ]
  for (const r of s) {
    const sc = SCENARIOS[r.scenario]
    const ref = (t: string): string =>
      t === r.target ? '1×' : times(ratio(r.serverCpuUs, s.find((x) => x.scenario === r.scenario && x.target === t)?.serverCpuUs ?? NaN))
    lines.push(`| ${sc.label} (per ${sc.unit}) | ${r.target} | ${fmt(r.serverCpuUs)} | ${REFERENCES.map(ref).join(' | ')} | ` +
      `${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.clientCpuUs)} | ` +
      `${Number.isFinite(r.resumedPct) ? `${r.resumedPct.toFixed(1)} %` : '—'} | ${r.socketErrors}/${r.statusErrors} | ` +
      `${r.perRound.map((v) => fmt(v)).join(', ')} |`)
  }
  return lines.join('\n')
}

export function memoryTable (r: Results): string {
  if (r.memory.length === 0) return '_idle memory not measured_'
  const levels = r.memory[0]?.levels.map((l) => l.connections) ?? []
  const lines = [
    `| target | RSS before, MiB | ${levels.map((n) => `KiB/conn at ${n}`).join(' | ')} | RSS after close, MiB | returned | errors |`,
    `|---|--:|${levels.map(() => '--:|').join('')}--:|--:|--:|`
  ]
  for (const m of r.memory) {
    lines.push(`| ${m.target} | ${fmt(m.baselineKiB / 1024, 1)} | ${m.levels.map((l) => fmt(l.kibPerConnection, 1)).join(' | ')} | ` +
      `${fmt(m.afterCloseKiB / 1024, 1)} | ${fmt(returnedPct(m))} % | ${m.levels.reduce((n, l) => n + l.errors, 0)} |`)
  }
  return lines.join('\n')
}

export function tunnelTable (r: Results): string {
  if (r.tunnel.length === 0) return '_tunnel not measured_'
  const lines = ['| pair | bulk MiB/s | proxies CPU ms/MiB | new connections/s through the pair | pair CPU µs/connection |',
    '|---|--:|--:|--:|--:|']
  for (const t of r.tunnel) {
    lines.push(`| ${t.name} | ${fmt(t.mibPerS)} | ${fmt(t.cpuMsPerMib, 2)} | ${fmt(t.connPerS)} | ${fmt(t.pairCpuUsPerConn)} |`)
  }
  return lines.join('\n')
}

export function workersTable (r: Results): string {
  const w = r.workers
  if (w === undefined) return '_workers not measured_'
  return ['| gateway | req/s (keep-alive GET, saturating) | server CPU µs/request | cores busy |', '|---|--:|--:|--:|',
    `| 1 worker | ${fmt(w.one.rps)} | ${fmt(w.one.serverCpuUs)} | ${fmt(w.one.cpuCores, 2)} |`,
    `| MTLS_WORKERS=${w.all.workers} | ${fmt(w.all.rps)} | ${fmt(w.all.serverCpuUs)} | ${fmt(w.all.cpuCores, 2)} |`,
    `| ratio | ${times(ratio(w.all.rps, w.one.rps))} | | |`].join('\n')
}

export function targetsTable (r: Results): string {
  const lines = ['| target | measured | limit | met |', '|---|---|---|---|']
  for (const t of evaluateTargets(r)) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.limit} | ${t.met === undefined ? '—' : t.met ? 'yes' : 'no'} |`)
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

export interface RunInfo { command: string, settings: string[], versions: string[], notes: string[] }

/** The whole markdown report. */
export function markdownReport (r: Results, info: RunInfo): string {
  return `# Benchmark results

## Server CPU per request / handshake

${headlineTable(r.summaries)}

### Every target

${scenarioTable(r.summaries)}

## Idle connections (server RSS)

${memoryTable(r)}

## Tunnel pairs

${tunnelTable(r)}

## Workers

${workersTable(r)}

## Targets

${targetsTable(r)}

![ratios](ratios.svg)

- date: ${new Date().toISOString()}
- command: \`${info.command}\`
- CPU: ${cpuModel()} × ${cpus().length} (shared machine: load generator, servers and simulator on the same cores)
${[...info.versions, ...info.settings, ...info.notes].map((n) => `- ${n}\n`).join('')}`
}

/** Writes results.md, results.json and ratios.svg; returns the markdown. */
export async function writeResults (
  paths: { md: string, json: string, svg: string }, r: Results, info: RunInfo
): Promise<string> {
  const md = markdownReport(r, info)
  await writeFile(paths.md, md)
  await writeFile(paths.json, JSON.stringify({ date: new Date().toISOString(), ...info, ...r, targets: evaluateTargets(r) }, null, 2) + '\n')
  await writeFile(paths.svg, ratioChart(chartBars(r), 'mtls-ambassador vs references: ratios (CPU: lower is better)'))
  return md
}
