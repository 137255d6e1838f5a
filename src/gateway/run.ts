// The HTTP gateway mode: its trust in service, the mTLS app (TLS guard, connection limits, admission, interceptor,
// proxy, websocket tunnels), the management services of every tenant, and its start / reload / close / readiness.
import type { Server } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Agent } from 'undici'
import type { CommonConfig, GatewayConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { Mode } from '../mode.js'
import { secureContextOptions } from '../tls/trust.js'
import { setListenerContext } from '../tls/tickets.js'
import { TrustService } from '../tls/trust-service.js'
import type { ReloadResult } from '../tls/reloader.js'
import { TrustMetrics } from '../observe/trust-metrics.js'
import { fixedFieldLog } from '../observe/logger.js'
import { checkReadiness, type Check } from '../status/readiness.js'
import { listenError } from '../net/listen-error.js'
import { gatewayTrustSource } from './trust-source.js'
import { createHttpsApp, registerRoutes } from './app.js'
import { GatewayMetrics } from './metrics.js'
import { RequestAdmission } from './request-admission.js'
import { WebsocketTunnels } from './proxy/websocket-tunnel.js'
import { HeaderRewriter } from './proxy/headers.js'
import { createUpstreamAgent, upstreamTls } from './proxy/upstream.js'
import { buildTenantServices, startLogins, type TenantServices } from './tenant-services.js'
import { ManagementHealth } from './mender/management-health.js'
import { limitConnections } from './limits.js'
import { closeDeviceConnections } from './http2.js'

type Gw = DeepReadonly<GatewayConfig>

export interface GatewayDeps { log: Logger, registry: Registry }

/** Every tenant's Mender services, their login state tracked for readiness and mtls_management_up. */
function buildManagement (
  g: Gw, o: { backend: string, dispatcher: Agent, log: Logger }, metrics: GatewayMetrics
): { tenants: Map<string, TenantServices>, health: ManagementHealth } {
  const onChange = (tenant: string, up: boolean): void => { metrics.managementUp.set({ tenant }, up ? 1 : 0) }
  const health = new ManagementHealth({ log: o.log, onChange })
  const tenants = buildTenantServices(g, {
    ...o,
    onLogin: (result, tenant, failure) => {
      metrics.managementLogins.inc({ result })
      health.record(tenant, result, failure?.code, failure?.upstreamStatus)
    }
  })
  for (const t of tenants.values()) health.track(t.name, t.auth.usesStaticToken)
  return { tenants, health }
}

async function startTrust (
  g: Gw, common: DeepReadonly<CommonConfig>, log: Logger, tm: TrustMetrics
): Promise<TrustService> {
  return await TrustService.start({
    source: gatewayTrustSource(g),
    crl: { urls: g.crl_urls, intervalMs: g.crl_fetch_interval, timeoutMs: g.upstream_headers_timeout },
    log,
    retryMs: common.reload_retry_interval,
    watch: common.reload_watch,
    onReload: (r) => tm.recordReload({}, r.ok, r.at),
    onCrlFetch: (ok) => tm.crlFetches.inc({ result: ok ? 'ok' : 'failed' })
  })
}

/** Builds the gateway (loading its trust: throws MTLS_ERR_TLS_MATERIAL listing every problem); does not listen. */
export async function createGateway (g: Gw, common: DeepReadonly<CommonConfig>, deps: GatewayDeps): Promise<Mode> {
  const { log } = deps
  const metrics = new GatewayMetrics(deps.registry)
  const trustMetrics = new TrustMetrics(deps.registry, { prefix: 'mtls', labelNames: [] })
  const trust = await startTrust(g, common, log, trustMetrics)
  const tls = upstreamTls(g)
  const dispatcher = createUpstreamAgent(g, tls)
  const backend = g.mender_backend.replace(/\/+$/, '')
  const headers = new HeaderRewriter(g.forward_identity)
  const drain = { active: false }
  const admission = new RequestAdmission({ isDraining: () => drain.active, metrics, accessLog: fixedFieldLog(log) })
  const tunnels = new WebsocketTunnels({
    backend,
    tls,
    connectTimeoutMs: g.upstream_connect_timeout,
    headersTimeoutMs: g.upstream_headers_timeout,
    log,
    headers,
    admission
  })
  const app = await createHttpsApp(g, { trust, logger: log, admission, isDraining: () => drain.active })
  // the app is an https server (see createHttpsApp); Fastify's default typing says http
  const server = app.server as unknown as Server
  trust.onChange((next) =>
    setListenerContext(server, secureContextOptions(next, g.https_tls_version_min, 'gateway', next.plan.fallback.ca)))
  const onRefused = (reason: string): void => { trustMetrics.handshakeFailures.inc({ reason }) }
  const guard = trust.guard(server, {
    log,
    stalePolicy: g.crl_stale_policy,
    policy: { rsaMinBits: g.device_rsa_min_bits },
    onRefused,
    onGrace: (kind) => trustMetrics.graceAdmissions.inc({ kind })
  })
  limitConnections(server, { max: g.max_connections, perIp: g.max_connections_per_ip, log, onRefused })
  trustMetrics.watch(() => [{ labels: {}, trust: trust.current(), openConnections: guard.openConnections() }])
  metrics.watchWebsockets(() => tunnels.size)
  const { tenants, health } = buildManagement(g, { backend, dispatcher, log }, metrics)
  await registerRoutes(app, g, { backend, dispatcher, headers, tenants, metrics })
  server.on('upgrade', (req, socket, head) => tunnels.handle(req, socket, head))
  return new GatewayMode({ g, log, app, trust, tunnels, tenants, health, dispatcher, drain })
}

interface Parts {
  g: Gw
  log: Logger
  app: FastifyInstance
  trust: TrustService
  tunnels: WebsocketTunnels
  tenants: Map<string, TenantServices>
  health: ManagementHealth
  dispatcher: Agent
  drain: { active: boolean }
}

class GatewayMode implements Mode {
  readonly name = 'gateway'
  private url = ''

  constructor (private readonly p: Parts) {}

  async start (): Promise<void> {
    const { host, port } = this.p.g.listen
    try {
      this.url = await this.p.app.listen({
        host, port, backlog: this.p.g.listen_backlog, listenTextResolver: (a) => `listening on ${a}`
      })
    } catch (err) {
      await this.close(0)
      throw listenError(err, { host, port })
    }
    // every tenant's first login, in the background: readiness and the mtls_management_up gauge report its outcome
    startLogins(this.p.tenants)
  }

  async reload (trigger: string): Promise<ReloadResult[]> { return [await this.p.trust.reload(trigger)] }

  async close (deadlineMs: number): Promise<void> {
    const { app, log } = this.p
    this.p.drain.active = true
    const timer = setTimeout(() => {
      log.warn({ event: 'shutdown_forced' }, 'drain deadline reached, closing remaining connections')
      closeDeviceConnections(app.server)
    }, deadlineMs)
    timer.unref()
    this.p.trust.close()
    const closed = app.close()
    // websockets have no request boundary to drain at; the server's close does not wait for their Mender side
    const tunnels = this.p.tunnels.closeAll()
    log.info({ event: 'websockets_closed', count: tunnels.count }, 'websocket tunnels closed')
    await closed
    await tunnels.closed
    clearTimeout(timer)
    await this.p.dispatcher.close()
  }

  readiness (): Record<string, Check> {
    // never waits for Mender: the last known login state, and a login started in the background when one is due
    startLogins(this.p.tenants)
    const { trust } = this.p
    return checkReadiness({
      material: trust.current().material,
      listening: this.p.app.server.listening,
      management: this.p.health.check(),
      lastReload: trust.lastReload
    }).checks
  }

  addresses (): Record<string, string> {
    return this.url === '' ? {} : { gateway: this.url }
  }
}
