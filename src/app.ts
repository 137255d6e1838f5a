// Builds the gateway (never listens): the mTLS Fastify app with its TLS guard, status route, auth interceptor,
// device proxy and websocket tunnels; the status app with metrics; the shared upstream client and credentials.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { Server } from 'node:tls'
import type { Config } from './config/schema.js'
import { installTlsGuard, type TlsGuard } from './tls/guard.js'
import type { TlsMaterial } from './tls/material.js'
import { createUpstreamAgent, upstreamTls } from './proxy/upstream.js'
import { deviceProxy } from './proxy/plugin.js'
import { WebsocketTunnels } from './proxy/websocket-tunnel.js'
import { requestId } from './request-id.js'
import { authInterceptor } from './device-auth/interceptor.js'
import { Preauthorizer } from './device-auth/preauthorizer.js'
import { ManagementAuth } from './mender/management-auth.js'
import { ManagementClient } from './mender/management-client.js'
import { buildStatusApp, STATUS_OK } from './status/listener.js'
import { checkReadiness } from './status/readiness.js'
import { addGatewayHooks } from './http-hooks.js'
import { Metrics } from './metrics.js'

export interface Gateway {
  app: FastifyInstance
  statusApp: FastifyInstance
  auth: ManagementAuth
  management: ManagementClient
  dispatcher: Agent
  tunnels: WebsocketTunnels
  guard: TlsGuard
  metrics: Metrics
  close: () => Promise<void>
}

function createHttpsApp (config: Config, material: TlsMaterial, logger: Logger): FastifyInstance {
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    https: {
      cert: material.cert,
      key: material.key,
      ca: material.ca,
      requestCert: true,
      // OpenSSL still verifies every chain; the TLS guard destroys unverified sockets with a logged reason code
      rejectUnauthorized: false,
      minVersion: config.https_tls_version_min === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
      handshakeTimeout: config.handshake_timeout
    },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
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
  return app
}

export async function buildGateway (config: Config, material: TlsMaterial, logger: Logger): Promise<Gateway> {
  const tls = upstreamTls(config)
  const dispatcher = createUpstreamAgent(config, tls)
  const backend = config.mender_backend.replace(/\/+$/, '')
  const app = createHttpsApp(config, material, logger)
  const tunnels = new WebsocketTunnels({ backend, tls, connectTimeoutMs: config.upstream_connect_timeout, log: logger })
  // the app is an https server (see createHttpsApp); Fastify's default typing says http
  const guard = installTlsGuard(app.server as unknown as Server, { log: logger, onRefused: (reason) => metrics.handshakeFailures.inc({ reason }) })
  const metrics = new Metrics({
    openConnections: () => guard.openConnections(),
    openWebsockets: () => tunnels.size,
    serverCert: () => material.serverCert,
    caCerts: () => material.caCerts
  })
  tunnels.onUpstreamError = (code) => metrics.upstreamErrors.inc({ kind: code })

  const mlog = logger.child({ component: 'management' })
  const auth = new ManagementAuth({
    baseUrl: backend,
    user: config.mender_user,
    pass: config.mender_pass,
    token: config.mender_token,
    dispatcher,
    log: mlog,
    onLogin: (result) => metrics.managementLogins.inc({ result })
  })
  const management = new ManagementClient({ baseUrl: backend, auth, dispatcher, log: mlog })
  const preauthorizer = new Preauthorizer({ client: management, force: config.preauth_force, ttlSeconds: config.preauth_cache_ttl, maxEntries: config.preauth_cache_size })

  let draining = false
  addGatewayHooks(app, metrics, () => draining)
  app.get('/status', async () => STATUS_OK)
  await app.register(authInterceptor, {
    backend,
    dispatcher,
    bodyLimit: config.body_limit,
    keyMatch: config.key_match,
    preauthorizer,
    onDecision: (decision, reason) => metrics.authDecisions.inc({ decision, reason })
  })
  await app.register(deviceProxy, { backend, dispatcher })
  app.server.on('upgrade', (req, socket, head) => tunnels.handle(req, socket, head))

  const statusApp = buildStatusApp(logger, async () => await checkReadiness(material, auth), metrics.registry)
  const close = async (): Promise<void> => {
    draining = true
    const closed = Promise.allSettled([app.close(), statusApp.close()])
    tunnels.closeAll()
    await closed
    await dispatcher.close()
  }
  return { app, statusApp, auth, management, dispatcher, tunnels, guard, metrics, close }
}
