// Builds the gateway (never listens): the mTLS Fastify app with its TLS guard, status route, auth interceptor and
// device proxy, the status app, and the shared upstream client and management credentials.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { Config } from './config/schema.js'
import { HttpErrors } from './errors.js'
import { sendError } from './error-reply.js'
import { installTlsGuard } from './tls/guard.js'
import { peerLog, peerOf } from './tls/peer.js'
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

export interface Gateway {
  app: FastifyInstance
  statusApp: FastifyInstance
  auth: ManagementAuth
  management: ManagementClient
  dispatcher: Agent
  tunnels: WebsocketTunnels
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
  installTlsGuard(app.server, logger)
  return app
}

const closing = new WeakSet<FastifyInstance>()

function addCommonHooks (app: FastifyInstance): void {
  app.decorateRequest('peer', undefined)
  app.addHook('onRequest', async (request, reply) => {
    request.peer = peerOf(request.raw.socket)
    if (request.peer === undefined) return await sendError(request, reply, new HttpErrors.UNAUTHENTICATED())
    if (closing.has(app)) return await sendError(request, reply, new HttpErrors.SHUTTING_DOWN())
  })
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({
      event: 'access',
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      device: peerLog(request.peer)
    }, 'request')
  })
  // while draining, every response closes its connection so keep-alive clients let the server finish
  app.addHook('onSend', async (_request, reply) => {
    if (closing.has(app)) reply.header('connection', 'close')
  })
  app.setErrorHandler(async (err, request, reply) => await sendError(request, reply, err))
  app.setNotFoundHandler(async (request, reply) => await sendError(request, reply, new HttpErrors.NOT_FOUND()))
}

export async function buildGateway (config: Config, material: TlsMaterial, logger: Logger): Promise<Gateway> {
  const tls = upstreamTls(config)
  const dispatcher = createUpstreamAgent(config, tls)
  const backend = config.mender_backend.replace(/\/+$/, '')
  const mlog = logger.child({ component: 'management' })
  const auth = new ManagementAuth({ baseUrl: backend, user: config.mender_user, pass: config.mender_pass, token: config.mender_token, dispatcher, log: mlog })
  const management = new ManagementClient({ baseUrl: backend, auth, dispatcher, log: mlog })
  const preauthorizer = new Preauthorizer({ client: management, force: config.preauth_force, ttlSeconds: config.preauth_cache_ttl, maxEntries: config.preauth_cache_size })

  const app = createHttpsApp(config, material, logger)
  addCommonHooks(app)
  app.get('/status', async () => STATUS_OK)
  await app.register(authInterceptor, { backend, dispatcher, bodyLimit: config.body_limit, keyMatch: config.key_match, preauthorizer })
  await app.register(deviceProxy, { backend, dispatcher })
  const tunnels = new WebsocketTunnels({ backend, tls, connectTimeoutMs: config.upstream_connect_timeout, log: logger })
  app.server.on('upgrade', (req, socket, head) => tunnels.handle(req, socket, head))

  const statusApp = buildStatusApp(logger, async () => await checkReadiness(material, auth))
  const close = async (): Promise<void> => {
    closing.add(app)
    const closed = Promise.allSettled([app.close(), statusApp.close()])
    tunnels.closeAll()
    await closed
    await dispatcher.close()
  }
  return { app, statusApp, auth, management, dispatcher, tunnels, close }
}
