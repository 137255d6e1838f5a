// The README's configuration and error-code tables are part of the product: they must list exactly what the code
// defines (keys, env names, defaults; codes and statuses).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FIELDS } from '../../src/config/schema.js'
import { configTable } from '../../src/tools/readme-config.js'
import { HttpErrors, LogCodes, NetErrors, NetReasons, StartupErrors, TlsReasons } from '../../src/errors.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

function section (name: string): string[][] {
  const m = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme)
  if (m?.[1] === undefined) throw new Error(`README has no ${name} section`)
  return m[1].trim().split('\n').slice(2).map((row) => row.split('|').slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, '')))
}

describe('README', () => {
  it('lists every configuration key with its env name, default and meaning, as generated, and nothing else', () => {
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)
    expect(m?.[1]).toBe(configTable())
    const rows = section('config-table')
    expect(rows.map((r) => [r[0], r[1]])).toEqual(Object.entries(FIELDS).map(([key, f]) => [key, f.env]))
  })

  it('lists every HTTP error code with its status and body text, and nothing else', () => {
    const rows = section('error-table').map((r) => [r[0], Number(r[1]), r[2]]).sort()
    const expected = Object.values(HttpErrors).map((C) => {
      const e = new C()
      return [e.code, e.statusCode, e.message]
    }).sort()
    expect(rows).toEqual(expected)
  })

  it('lists every log-only code, and nothing else', () => {
    expect(section('log-table').map((r) => r[0]).sort()).toEqual(Object.values(LogCodes).sort())
  })

  it('lists every TLS refusal reason code, and nothing else', () => {
    expect(section('tls-table').map((r) => r[0]).sort()).toEqual(Object.values(TlsReasons).sort())
  })

  it('lists every metric the gateway registers, and nothing else', async () => {
    const { createRegistry } = await import('../../src/observe/registry.js')
    const { TrustMetrics } = await import('../../src/observe/trust-metrics.js')
    const { GatewayMetrics } = await import('../../src/gateway/metrics.js')
    const registry = createRegistry()
    new TrustMetrics(registry, { prefix: 'mtls', labelNames: [] }).watch(() => [])
    new GatewayMetrics(registry).watchWebsockets(() => 0)
    const { TunnelMetrics } = await import('../../src/tunnel/metrics.js')
    new TunnelMetrics(registry).trust.watch(() => [])
    const { Cluster } = await import('../../src/cluster/primary.js')
    const { pino } = await import('pino')
    // eslint-disable-next-line no-new -- registers the cluster's metrics; forks nothing until started
    new Cluster({ count: 2, log: pino({ level: 'silent' }), registry })
    const ours = (await registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.startsWith('mtls_')).sort()
    expect(section('metrics-table').map((r) => r[0]).sort()).toEqual(ours)
  })

  it('lists every socket-layer code, and nothing else', () => {
    const codes = [...Object.values(NetErrors).map((C) => new C('x', 'y').code), ...Object.values(NetReasons)]
    expect(section('net-table').map((r) => r[0]).sort()).toEqual(codes.sort())
  })

  it('names the startup error codes', () => {
    for (const C of Object.values(StartupErrors)) expect(readme).toContain(new C('x').code)
  })

  it('gives exactly two quick-start commands on its first screen', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
    const commands = firstBlock.split('\n').filter((l) => l.trim() !== '')
    expect(commands).toHaveLength(2)
    expect(commands[0]).toMatch(/npm run demo/)
    expect(commands[1]).toMatch(/npm test/)
  })
})
