// extra/grafana/mtls-ambassador.json is an importable Grafana dashboard (one Prometheus datasource input, panels on
// the grid) whose every PromQL expression parses and names only metrics that a real gateway's and a real reverse
// tunnel's /metrics export: both are started in-process and scraped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { openBackend, startGateway, type Backend, type GatewayHandle } from '../support/gateway.js'
import { echoServer, reverseTunnel, startTunnels, type EchoServer, type TunnelsHandle } from '../support/tunnel.js'
import { allPanels, dashboardProblems, exportedNames, expressions, loadDashboard, missingMetrics, type Panel } from '../support/dashboard.js'
import { metricNames, parsePromQL } from '../support/promql.js'

const dashboard = loadDashboard()
// Grafana replaces this placeholder with the datasource chosen on import
const DS = '$' + '{DS_PROMETHEUS}'

// mtls_* families exported but deliberately not on the dashboard, with the reason
const NOT_SHOWN: Record<string, string> = {
  mtls_tunnel_grace_admissions_total: 'reserved: tunnels have no grace window',
  mtls_tunnel_crl_fetches_total: 'tunnels rarely fetch CRLs; the gateway panel shows fetches',
  mtls_tunnel_reload_last_timestamp_seconds: 'tunnel reloads are shown by result',
  mtls_tunnel_revoked_serials: 'denylist sizes are configuration, not health'
}

async function scrape (statusUrl: string): Promise<string> {
  const res = await request(`${statusUrl}/metrics`)
  expect(res.statusCode).toBe(200)
  return await res.body.text()
}

let backend: Backend
let gw: GatewayHandle
let echo: EchoServer
let tunnels: TunnelsHandle
let exported: Set<string>

beforeAll(async () => {
  backend = await openBackend()
  gw = await startGateway({ pki: backend.pki, backendUrl: backend.sim.url })
  echo = await echoServer()
  tunnels = await startTunnels([reverseTunnel(backend.pki, echo.address)])
  exported = new Set([...exportedNames(await scrape(gw.statusUrl)), ...exportedNames(await scrape(tunnels.statusUrl))])
})

afterAll(async () => {
  await tunnels?.close()
  await echo?.close()
  await gw?.close()
  await backend?.close()
})

describe('Grafana dashboard: structure', () => {
  it('is a schemaVersion 39 dashboard with a Prometheus datasource input', () => {
    expect(dashboard.schemaVersion).toBe(39)
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })])
  })

  it('queries that datasource in every panel and variable', () => {
    const panels = allPanels(dashboard).filter((p) => p.type !== 'row')
    const elsewhere = (p: Panel): boolean =>
      p.datasource?.uid !== DS || (p.targets ?? []).some((t) => t.datasource?.uid !== DS)
    expect(panels.filter(elsewhere).map((p) => p.title)).toEqual([])
    expect(dashboard.templating.list.filter((v) => v.datasource?.uid !== DS).map((v) => v.name)).toEqual([])
  })

  it('gives every panel a unique id and a place on the 24-column grid, without overlaps', () => {
    const panels = allPanels(dashboard)
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
    const cells = new Map<string, string>()
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos
      expect(x + w, p.title).toBeLessThanOrEqual(24)
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.get(`${i},${j}`), `${p.title} overlaps`).toBeUndefined()
          cells.set(`${i},${j}`, p.title)
        }
      }
    }
  })

  it('has a query in every panel that is not a row', () => {
    expect(allPanels(dashboard).filter((p) => p.type !== 'row' && (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([])
  })
})

describe('Grafana dashboard: expressions against a real scrape', () => {
  it('scrapes gateway and tunnel families (sanity of the reference)', () => {
    expect(exported).toContain('mtls_requests_total')
    expect(exported).toContain('mtls_request_duration_seconds_bucket')
    expect(exported).toContain('mtls_tunnel_open_connections')
    expect(exported).toContain('process_cpu_seconds_total')
  })

  it.for(expressions(dashboard).map((e) => [e.where, e.expr] as const))('%s parses as PromQL and names exported metrics', ([, expr]) => {
    const names = metricNames(parsePromQL(expr))
    expect(names.length).toBeGreaterThan(0)
    expect(missingMetrics(expr, exported)).toEqual([])
  })

  it('reports a panel naming a metric no exporter has', () => {
    const broken = structuredClone(dashboard)
    const panel = allPanels(broken).find((p) => p.title === 'Handshake failures by reason')
    const target = panel?.targets?.[0]
    if (target === undefined) throw new Error('the handshake panel has no target')
    target.expr = 'sum by (reason) (rate(mtls_handshake_failure_total[$__rate_interval]))'
    expect(dashboardProblems(broken, exported)).toEqual(['panel "Handshake failures by reason" target A: mtls_handshake_failure_total'])
    expect(dashboardProblems(dashboard, exported)).toEqual([])
  })

  it('tells histogram series from family names', () => {
    expect(missingMetrics('rate(mtls_request_duration_seconds_count[5m])', exported)).toEqual([])
    expect(missingMetrics('rate(mtls_request_duration_seconds[5m])', exported)).toEqual(['mtls_request_duration_seconds'])
    expect(missingMetrics('rate(mtls_requests_total_bucket[5m])', exported)).toEqual(['mtls_requests_total_bucket'])
  })

  it('refuses an expression that does not parse', () => {
    expect(() => missingMetrics('sum by (reason (rate(mtls_requests_total[5m]))', exported)).toThrow(/PromQL/)
    expect(() => missingMetrics('rates(mtls_requests_total[5m])', exported)).toThrow(/unknown function/)
  })
})

describe('Grafana dashboard: coverage', () => {
  const read = new Set(expressions(dashboard).flatMap((e) => metricNames(parsePromQL(e.expr))))
  const family = (series: string): string => series.replace(/_(bucket|sum|count)$/, '')

  it.for([
    'mtls_handshake_failures_total', 'mtls_auth_decisions_total', 'mtls_upstream_errors_total',
    'mtls_request_duration_seconds_bucket', 'mtls_open_connections', 'mtls_server_certificate_expiry_seconds',
    'mtls_ca_certificate_expiry_seconds', 'mtls_crl_next_update_seconds', 'mtls_reloads_total',
    'mtls_tunnel_connections_total', 'mtls_tunnel_bytes_total', 'mtls_tunnel_handshake_failures_total'
  ])('shows %s', (name) => {
    expect(read).toContain(name)
  })

  it('shows every mtls_* family the processes export, but the few listed as not shown', () => {
    const shown = new Set([...read].map(family))
    const families = new Set([...exported].filter((n) => n.startsWith('mtls_')).map((n) => exported.has(`${family(n)}_bucket`) ? family(n) : n))
    expect([...families].filter((f) => !shown.has(f) && NOT_SHOWN[f] === undefined).sort()).toEqual([])
    expect(Object.keys(NOT_SHOWN).filter((f) => !families.has(f))).toEqual([])
  })
})
