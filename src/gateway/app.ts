// Builds the gateway (never listens): the mTLS Fastify app with its TLS guard, status route, auth interceptor,
// device proxy and websocket tunnels; the status app with metrics; the shared upstream client and credentials.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { Server } from 'node:tls'
import type { Config } from '../config/schema.js'
import { installTlsGuard, type TlsGuard } from '../tls/guard.js'
import { secureContextOptions, type TrustSnapshot } from '../tls/trust.js'
import { TrustReloader } from '../tls/reloader.js'
import type { CrlFetcher } from '../tls/crl-fetcher.js'
import { createUpstreamAgent, upstreamTls } from './proxy/upstream.js'
import { deviceProxy } from './proxy/plugin.js'
import { WebsocketTunnels } from './proxy/websocket-tunnel.js'
import { HeaderRewriter } from './proxy/headers.js'
import { requestId } from './request-id.js'
import { authInterceptor } from './device-auth/interceptor.js'
import { parseBindingKeys } from './device-auth/binding.js'
import type { ManagementAuth } from './mender/management-auth.js'
import type { ManagementClient } from './mender/management-client.js'
import { buildTenantServices, startLogins, type TenantServices } from './tenant-services.js'
import { DEFAULT_TENANT } from '../tls/tenants.js'
import { buildStatusApp, STATUS_OK } from '../status/listener.js'
import { checkReadiness, type Readiness } from '../status/readiness.js'
import { ManagementHealth } from './mender/management-health.js'
import { addGatewayHooks, admittingRewrite, clientErrorHandler, expectationFailed, refuseConnect } from './hooks.js'
import { RequestAdmission } from './request-admission.js'
import { Metrics } from '../observe/metrics.js'
import { backPressure, limitConnections } from './limits.js'

export interface Gateway {
  app: FastifyInstance
  statusApp: FastifyInstance
  auth: ManagementAuth
  management: ManagementClient
  /** Every tenant's Mender services, the default tenant's also as `auth`/`management`. */
  tenants: Map<string, TenantServices>
  dispatcher: Agent
  tunnels: WebsocketTunnels
  guard: TlsGuard
  metrics: Metrics
  reloader: TrustReloader
  close: () => Promise<void>
}

interface AppParts { config: Config, trust: TrustSnapshot, sni: { current: () => TrustSnapshot }, logger: Logger, admission: RequestAdmission }

function createHttpsApp ({ config, trust, sni, logger, admission }: AppParts): FastifyInstance {
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    https: {
      ...secureContextOptions(trust.material, config.https_tls_version_min, trust.plan.fallback.ca),
      // a named tenant's server name selects its own context, which advertises only that tenant's CA
      SNICallback: (servername, cb) => { cb(null, sni.current().contexts.get(servername.toLowerCase())) },
      requestCert: true,
      // OpenSSL still verifies every chain; the TLS guard destroys unverified sockets with a logged reason code
      rejectUnauthorized: false,
      handshakeTimeout: config.handshake_timeout,
      // how often Node enforces headers/request timeouts (slowloris); its default of 30 s is too lax
      connectionsCheckingInterval: Math.min(1000, config.headers_timeout),
      // a missing Host is refused by the request admission, in Mender's error shape (Node's own 400 has no body)
      requireHostHeader: false
    },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    // every request is admitted before routing; the router only ever sees a canonical path
    rewriteUrl: admittingRewrite(admission),
    clientErrorHandler: clientErrorHandler(logger),
    requestIdHeader: false,
    bodyLimit: config.body_limit,
    connectionTimeout: 0,
    keepAliveTimeout: config.keep_alive_timeout,
    requestTimeout: config.request_timeout,
    forceCloseConnections: 'idle',
    // requests arriving on kept-alive connections while draining get our own Mender-shaped 503 (see hooks)
    return503OnClosing: false
  })
  app.server.headersTimeout = config.headers_timeout
  // an Expect other than 100-continue: Mender-shaped 417 instead of Node's bare one
  app.server.on('checkExpectation', (req, res) => { expectationFailed(logger, req, res) })
  app.server.on('connect', (req, socket) => { refuseConnect(logger, req, socket) })
  return app
}

interface TrustParts { reloader: TrustReloader, guard: TlsGuard }

/** Trust in service: the reloader (SIGHUP, watch, CRL fetches), the TLS guard and the connection limits. */
function startTrust (server: Server, config: Config, trust: TrustSnapshot, logger: Logger, metrics: Metrics, crls?: CrlFetcher): TrustParts {
  const reloader = new TrustReloader({
    config,
    log: logger,
    retryMs: config.reload_retry_interval,
    fetched: () => crls?.current() ?? new Map(),
    apply: (next) => server.setSecureContext(secureContextOptions(next.material, config.https_tls_version_min, next.plan.fallback.ca)),
    onResult: (r) => metrics.recordReload(r.ok, r.at)
  }, trust)
  const onRefused = (reason: string): void => { metrics.handshakeFailures.inc({ reason }) }
  const guard = installTlsGuard(server, {
    log: logger,
    trust: () => reloader.current(),
    stalePolicy: config.crl_stale_policy,
    policy: { rsaMinBits: config.device_rsa_min_bits },
    onRefused,
    onGrace: (kind) => metrics.graceAdmissions.inc({ kind })
  })
  limitConnections(server, { max: config.max_connections, perIp: config.max_connections_per_ip, log: logger, onRefused })
  if (crls !== undefined) {
    crls.configure({ onChange: () => { reloader.reload('crl-fetch').catch(() => {}) }, onResult: (ok) => metrics.crlFetches.inc({ result: ok ? 'ok' : 'failed' }) })
    crls.start()
  }
  return { reloader, guard }
}

interface RouteDeps { backend: string, dispatcher: Agent, headers: HeaderRewriter, tenants: Map<string, TenantServices>, metrics: Metrics }

/** The routes of the mTLS app: /status, the auth interceptor, the device proxy. */
async function registerRoutes (app: FastifyInstance, config: Config, d: RouteDeps): Promise<void> {
  app.get('/status', async () => STATUS_OK)
  await app.register(authInterceptor, {
    backend: d.backend,
    dispatcher: d.dispatcher,
    bodyLimit: config.body_limit,
    keyMatch: config.key_match,
    tenants: d.tenants,
    binding: { mode: config.identity_binding, keys: parseBindingKeys(config.identity_binding_keys) },
    rateLimit: { max: config.auth_rate_limit, windowMs: config.auth_rate_window },
    headers: d.headers,
    onDecision: (decision, reason) => d.metrics.authDecisions.inc({ decision, reason })
  })
  await app.register(deviceProxy, { backend: d.backend, dispatcher: d.dispatcher, headers: d.headers })
}

/** Every tenant's Mender services, their login state tracked for readiness and mtls_management_up. */
function buildManagement (
  config: Config, o: { backend: string, dispatcher: Agent, log: Logger }, metrics: Metrics
): { tenants: Map<string, TenantServices>, health: ManagementHealth } {
  const onChange = (tenant: string, up: boolean): void => { metrics.managementUp.set({ tenant }, up ? 1 : 0) }
  const health = new ManagementHealth({ log: o.log, onChange })
  const tenants = buildTenantServices(config, {
    ...o,
    onLogin: (result, tenant, failure) => {
      metrics.managementLogins.inc({ result })
      health.record(tenant, result, failure?.code, failure?.upstreamStatus)
    }
  })
  for (const t of tenants.values()) health.track(t.name, t.auth.usesStaticToken)
  return { tenants, health }
}

export async function buildGateway (config: Config, trust: TrustSnapshot, logger: Logger, crls?: CrlFetcher): Promise<Gateway> {
  const tls = upstreamTls(config)
  const dispatcher = createUpstreamAgent(config, tls)
  const backend = config.mender_backend.replace(/\/+$/, '')
  const headers = new HeaderRewriter(config.forward_identity)
  let parts: TrustParts | undefined
  const metrics = new Metrics({
    openConnections: () => parts?.guard.openConnections() ?? 0,
    // read at scrape time, after construction
    openWebsockets: (): number => tunnels.size,
    trust: () => parts?.reloader.current()
  })
  let draining = false
  const admission = new RequestAdmission({ isDraining: () => draining, metrics })
  const tunnels = new WebsocketTunnels({
    backend, tls, connectTimeoutMs: config.upstream_connect_timeout, headersTimeoutMs: config.upstream_headers_timeout, log: logger, headers, admission
  })
  const app = createHttpsApp({ config, trust, sni: { current: () => parts?.reloader.current() ?? trust }, logger, admission })
  // the app is an https server (see createHttpsApp); Fastify's default typing says http
  const server = app.server as unknown as Server
  const { reloader, guard } = parts = startTrust(server, config, trust, logger, metrics, crls)
  const { tenants, health } = buildManagement(config, { backend, dispatcher, log: logger }, metrics)
  addGatewayHooks(app, admission, () => draining)
  await backPressure(app, config.max_event_loop_delay)
  await registerRoutes(app, config, { backend, dispatcher, headers, tenants, metrics })
  server.on('upgrade', (req, socket, head) => tunnels.handle(req, socket, head))
  const ready = (): Readiness => {
    // never waits for Mender: the last known login state, and a login started in the background when one is due
    startLogins(tenants)
    const material = reloader.current().material
    const listening = app.server.listening
    return checkReadiness({ material, listening, management: health.check(), lastReload: reloader.last })
  }
  const statusApp = buildStatusApp(logger, ready, metrics.registry)
  const close = async (): Promise<void> => {
    draining = true
    reloader.close()
    crls?.stop()
    const closed = Promise.allSettled([app.close(), statusApp.close()])
    tunnels.closeAll()
    await closed
    await dispatcher.close()
  }
  const main = tenants.get(DEFAULT_TENANT) as TenantServices
  return { app, statusApp, auth: main.auth, management: main.management, tenants, dispatcher, tunnels, guard, metrics, reloader, close }
}
