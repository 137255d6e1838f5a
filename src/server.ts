// Process entry for `serve`: load config → load trust (TLS material, denylist, CRLs) → build → listen; SIGHUP
// reloads trust; SIGTERM/SIGINT drain in-flight requests and exit 0. The only module that exits the process.
import type { Logger } from 'pino'
import { loadConfig, maskedConfig, type LoadOptions } from './config/load.js'
import { parseListen, type ListenAddress } from './config/listen.js'
import type { Config } from './config/schema.js'
import { createLogger } from './observe/logger.js'
import { loadTrust } from './tls/trust.js'
import { CrlFetcher } from './tls/crl-fetcher.js'
import { buildGateway, type Gateway } from './gateway/app.js'
import { startLogins } from './gateway/tenant-services.js'
import { listenError } from './net/listen-error.js'

export interface Running { gateway: Gateway, url: string, statusUrl: string | undefined, stop: () => Promise<void> }

function crlFetcher (config: Config, logger: Logger): CrlFetcher {
  return new CrlFetcher({
    urls: config.crl_urls.split(',').map((u) => u.trim()).filter((u) => u !== ''),
    intervalMs: config.crl_fetch_interval,
    timeoutMs: config.upstream_headers_timeout,
    log: logger,
    onChange: () => {}
  })
}

/** Starts the gateway and its status listener; resolves once both listen. */
export async function startGateway (config: Config, logger: Logger): Promise<Running> {
  const fetcher = config.crl_urls === '' ? undefined : crlFetcher(config, logger)
  // fetch before the first load: no window in which revoked devices are admitted
  await fetcher?.fetchAll()
  const trust = await loadTrust(config, fetcher?.current())
  const gateway = await buildGateway(config, trust, logger, fetcher)
  if (config.reload_watch) gateway.reloader.watch()
  const main = parseListen(config.listen) ?? { host: '0.0.0.0', port: 8080 }
  const status = config.status_listen === 'off' ? undefined : parseListen(config.status_listen)
  let url: string
  let statusUrl: string | undefined
  try {
    url = await listen(gateway.app, main)
    if (status !== undefined) statusUrl = await listen(gateway.statusApp, status)
  } catch (err) {
    // nothing may keep the process alive after a failed start (timers, watchers, the other listener)
    await gateway.close()
    throw err
  }
  logger.info({ event: 'listening', url, statusUrl, serverCertExpires: trust.material.serverCert.validTo, tenantCAs: trust.material.caCerts.length, denylisted: trust.denylist.size, crls: trust.crls.length }, 'mtls-ambassador listening')
  // every tenant's first login, in the background: readiness and the mtls_management_up gauge report its outcome
  startLogins(gateway.tenants)
  return { gateway, url, statusUrl, stop: async () => await drain(gateway, config, logger) }
}

/** Listens on `at`; a failure becomes MTLS_ERR_LISTEN ("cannot listen on 127.0.0.1:8080: address already in use"). */
async function listen (app: Gateway['app'], at: ListenAddress): Promise<string> {
  try {
    return await app.listen({ host: at.host, port: at.port, listenTextResolver: (a) => `listening on ${a}` })
  } catch (err) {
    throw listenError(err, at)
  }
}

async function drain (gateway: Gateway, config: Config, logger: Logger): Promise<void> {
  logger.info({ event: 'shutdown', timeoutMs: config.shutdown_timeout }, 'draining connections')
  const timer = setTimeout(() => {
    logger.warn({ event: 'shutdown_forced' }, 'drain deadline reached, closing remaining connections')
    gateway.app.server.closeAllConnections()
  }, config.shutdown_timeout)
  timer.unref()
  await gateway.close()
  clearTimeout(timer)
}

/** `mtls-ambassador serve`: runs until SIGTERM/SIGINT; exits 1 on a startup error (listing every problem). */
export async function serve (opts: LoadOptions): Promise<void> {
  let logger: Logger = createLogger({ debug_log: false, log_level: 'info' })
  let running: Running
  try {
    const config = loadConfig(opts)
    logger = createLogger(config)
    logger.info({ event: 'config', config: maskedConfig(config) }, 'effective configuration')
    running = await startGateway(config, logger)
  } catch (err) {
    // the message's first line says what failed ("cannot listen on 127.0.0.1:8080: address already in use")
    const what = (err as Error).message.split('\n')[0] ?? ''
    logger.fatal({ code: (err as { code?: string }).code, err }, `startup failed: ${what}`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ event: 'signal', signal }, 'stopping')
    running.stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  // reload() never rejects: a failure is logged, counted and retried by the reloader itself
  process.on('SIGHUP', () => { running.gateway.reloader.reload('SIGHUP').catch(() => {}) })
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
