// The tunnel mode: every configured tunnel with its own trust in service (reload keeps open connections), its
// listener (Unix socket with exact permissions, TCP, or a socket inherited from systemd) and its connections; one
// Mode for the process to start, reload, drain and ask for readiness.
import type { Server, Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { CommonConfig, TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { Mode } from '../mode.js'
import { TrustService } from '../tls/trust-service.js'
import { StartupErrors } from '../errors.js'
import type { ReloadResult } from '../tls/reloader.js'
import type { TlsGuard } from '../tls/guard.js'
import { listen, type Listening } from '../net/listen.js'
import { formatAddress } from '../net/address.js'
import type { Check } from '../status/readiness.js'
import { tunnelTrustProblem, tunnelTrustSource } from './trust-source.js'
import { TunnelMetrics } from './metrics.js'
import { TunnelConnections } from './connections.js'
import { forwardServer } from './forward.js'
import { reverseServer } from './reverse.js'

type Tunnel = DeepReadonly<TunnelConfig>
type Common = DeepReadonly<CommonConfig>

export interface TunnelDeps { log: Logger, registry: Registry }

interface Running { t: Tunnel, server: Server, trust: TrustService, connections: TunnelConnections, guard?: TlsGuard }

async function startTrust (t: Tunnel, common: Common, log: Logger, metrics: TunnelMetrics): Promise<TrustService> {
  return await TrustService.start({
    source: tunnelTrustSource(t),
    crl: { urls: t.crl_urls, intervalMs: 3600_000, timeoutMs: t.connect_timeout },
    log: log.child({ tunnel: t.name }),
    retryMs: common.reload_retry_interval,
    watch: common.reload_watch,
    onReload: (r) => metrics.trust.recordReload({ tunnel: t.name }, r.ok, r.at),
    onCrlFetch: (ok) => metrics.trust.crlFetches.inc({ tunnel: t.name, result: ok ? 'ok' : 'failed' })
  })
}

async function build (t: Tunnel, common: Common, log: Logger, metrics: TunnelMetrics): Promise<Running> {
  const trust = await startTrust(t, common, log, metrics)
  const connections = new TunnelConnections({
    name: t.name, log, metrics, idleTimeoutMs: t.idle_timeout, closeTimeoutMs: t.close_timeout
  })
  const parts = { t, log, trust, metrics, connections }
  const listener: { server: Server, guard?: TlsGuard } =
    t.mode === 'forward' ? { server: forwardServer(parts) } : reverseServer(parts)
  // every accepted socket counts for the drain, from its first byte
  listener.server.on('connection', (s: Socket) => connections.track(s))
  return { t, trust, connections, ...listener }
}

/** Builds each tunnel; a tunnel whose trust does not load is a problem naming it, anything else closes and throws. */
async function buildAll (
  tunnels: readonly Tunnel[], common: Common, log: Logger, metrics: TunnelMetrics
): Promise<{ built: Running[], problems: string[] }> {
  const built: Running[] = []
  const problems: string[] = []
  for (const t of tunnels) {
    try {
      built.push(await build(t, common, log, metrics))
    } catch (err) {
      if (!(err instanceof StartupErrors.TLS_MATERIAL)) {
        for (const r of built) r.trust.close()
        throw err
      }
      problems.push(tunnelTrustProblem(t.name, err))
    }
  }
  return { built, problems }
}

/** Builds every tunnel (loading each one's trust: throws MTLS_ERR_TLS_MATERIAL listing every tunnel's problems). */
export async function createTunnels (tunnels: readonly Tunnel[], common: Common, deps: TunnelDeps): Promise<Mode> {
  const metrics = new TunnelMetrics(deps.registry)
  const { built, problems } = await buildAll(tunnels, common, deps.log, metrics)
  if (problems.length > 0) {
    for (const r of built) r.trust.close()
    throw new StartupErrors.TLS_MATERIAL(problems.join('; '))
  }
  metrics.trust.watch(() => built.map((r) => ({
    labels: { tunnel: r.t.name }, trust: r.trust.current(), openConnections: r.connections.size
  })))
  return new TunnelMode(built, common, deps.log)
}

class TunnelMode implements Mode {
  readonly name = 'tunnels'
  private readonly listening = new Map<string, Listening>()

  constructor (private readonly tunnels: Running[], private readonly common: Common, private readonly log: Logger) {}

  async start (): Promise<void> {
    try {
      for (const r of this.tunnels) this.listening.set(r.t.name, await this.listen(r))
    } catch (err) {
      await this.close(0)
      throw err
    }
  }

  private async listen (r: Running): Promise<Listening> {
    const { t } = r
    const unix = t.listen_address.kind === 'unix'
    const at = await listen(r.server, t.listen_address, {
      env: this.common.systemd,
      ...(unix ? { mode: parseInt(t.unix_mode, 8) } : {}),
      ...(unix && t.unix_owner !== '' ? { owner: t.unix_owner } : {}),
      ...(unix && t.unix_group !== '' ? { group: t.unix_group } : {})
    })
    this.log.info({ event: 'tunnel_listening', tunnel: t.name, mode: t.mode, listen: formatAddress(at.local), connect: formatAddress(t.connect_address) }, 'tunnel listening')
    return at
  }

  async reload (trigger: string): Promise<ReloadResult[]> {
    return await Promise.all(this.tunnels.map(async (r) => await r.trust.reload(trigger)))
  }

  async close (deadlineMs: number): Promise<void> {
    await Promise.all(this.tunnels.map(async (r) => {
      await this.listening.get(r.t.name)?.close()
      this.listening.delete(r.t.name)
      r.trust.close()
      const cut = await r.connections.drain(deadlineMs)
      if (cut > 0) this.log.warn({ event: 'shutdown_forced', tunnel: r.t.name, connections: cut }, 'drain deadline reached, tunnel connections closed')
    }))
  }

  readiness (): Record<string, Check> {
    const now = Date.now()
    return Object.fromEntries(this.tunnels.map((r) => {
      const valid = Date.parse(r.trust.current().material.serverCert.validTo) > now
      const listening = this.listening.has(r.t.name)
      const check: Check = valid && listening ? { ok: true } : { ok: false, detail: !listening ? 'not listening' : 'certificate expired' }
      return [r.t.name, check]
    }))
  }

  addresses (): Record<string, string> {
    return Object.fromEntries([...this.listening].map(([name, at]) => [name, formatAddress(at.local)]))
  }
}
