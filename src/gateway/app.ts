// The gateway's Fastify app (never listens): the mTLS HTTPS server, its hooks and routes — /status, the auth
// interceptor and the device proxy — with Mender-shaped answers for what Node's HTTP layer refuses.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { GatewayConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import { secureContextOptions } from '../tls/trust.js'
import type { TrustService } from '../tls/trust-service.js'
import { renewListenerTickets } from '../tls/tickets.js'
import type { Server as TlsServer } from 'node:tls'
import { deviceProxy } from './proxy/plugin.js'
import type { HeaderRewriter } from './proxy/headers.js'
import { requestId } from './request-id.js'
import { authInterceptor } from './device-auth/interceptor.js'
import type { TenantServices } from './tenant-services.js'
import { STATUS_OK } from '../status/listener.js'
import { addGatewayHooks, admittingRewrite, clientErrorHandler, expectationFailed, refuseConnect } from './hooks.js'
import type { RequestAdmission } from './request-admission.js'
import type { GatewayMetrics } from './metrics.js'
import { backPressure } from './limits.js'
import { registerPing } from './ping.js'
import { listenerOptions, serveHttp2 } from './http2.js'

type Gw = DeepReadonly<GatewayConfig>

export interface AppDeps {
  trust: TrustService
  logger: Logger
  admission: RequestAdmission
  isDraining: () => boolean
}

function httpsOptions (g: Gw, trust: TrustService): Record<string, unknown> & { ticketKeys: Buffer } {
  const initial = trust.current()
  return {
    ...secureContextOptions(initial, g.https_tls_version_min, 'gateway', initial.plan.fallback.ca),
    // a named tenant's server name selects its own context, which advertises only that tenant's CA
    SNICallback: (servername: string, cb: (err: Error | null, ctx?: unknown) => void) => {
      cb(null, trust.current().contexts.get(servername.toLowerCase()))
    },
    requestCert: true,
    // OpenSSL still verifies every chain; the TLS guard destroys unverified sockets with a logged reason code
    rejectUnauthorized: false,
    handshakeTimeout: g.handshake_timeout,
    // how often Node enforces headers/request timeouts (slowloris); its default of 30 s is too lax
    connectionsCheckingInterval: Math.min(1000, g.headers_timeout),
    // a missing Host is refused by the request admission, in Mender's error shape (Node's own 400 has no body)
    requireHostHeader: false
  }
}

/**
 * The mTLS app with its hooks (routes are registered by registerRoutes): HTTP/2 and HTTP/1.1 over ALPN, or HTTPS
 * alone (`http2: false`); both go through the same hooks, admission and routes.
 */
export async function createHttpsApp (g: Gw, d: AppDeps): Promise<FastifyInstance> {
  const https = httpsOptions(g, d.trust)
  // Fastify's typing follows the options; the gateway reads the app as its default (HTTP/1) flavour either way
  const app = fastify({
    loggerInstance: d.logger as FastifyBaseLogger,
    ...listenerOptions(g, https) as { https: typeof https },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    // every request is admitted before routing; the router only ever sees a canonical path
    rewriteUrl: admittingRewrite(d.admission),
    clientErrorHandler: clientErrorHandler(d.logger),
    requestIdHeader: false,
    bodyLimit: g.body_limit,
    connectionTimeout: 0,
    keepAliveTimeout: g.keep_alive_timeout,
    requestTimeout: g.request_timeout,
    forceCloseConnections: 'idle',
    // requests arriving on kept-alive connections while draining get our own Mender-shaped 503 (see hooks)
    return503OnClosing: false
  }) as unknown as FastifyInstance
  serveHttp2(app, g, d.logger)
  app.server.headersTimeout = g.headers_timeout
  renewListenerTickets(app.server as unknown as TlsServer, https.ticketKeys)
  // an Expect other than 100-continue: Mender-shaped 417 instead of Node's bare one
  app.server.on('checkExpectation', (req, res) => { expectationFailed(d.logger, req, res) })
  app.server.on('connect', (req, socket) => { refuseConnect(d.logger, req, socket) })
  addGatewayHooks(app, d.admission, d.isDraining)
  await backPressure(app, g.max_event_loop_delay)
  return app
}

export interface RouteDeps {
  backend: string
  dispatcher: Agent
  headers: HeaderRewriter
  tenants: Map<string, TenantServices>
  metrics: GatewayMetrics
}

/** The routes of the mTLS app: /status, /ping, the auth interceptor, the device proxy. */
export async function registerRoutes (app: FastifyInstance, g: Gw, d: RouteDeps): Promise<void> {
  app.get('/status', async () => STATUS_OK)
  registerPing(app)
  await app.register(authInterceptor, {
    backend: d.backend,
    dispatcher: d.dispatcher,
    bodyLimit: g.body_limit,
    keyMatch: g.key_match,
    tenants: d.tenants,
    binding: { mode: g.identity_binding, keys: [...g.identity_binding_keys] },
    rateLimit: { max: g.auth_rate_limit, windowMs: g.auth_rate_window },
    headers: d.headers,
    onDecision: (decision, reason) => d.metrics.authDecisions.inc({ decision, reason })
  })
  await app.register(deviceProxy, { backend: d.backend, dispatcher: d.dispatcher, headers: d.headers })
}
