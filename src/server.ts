// Process entry for `serve`: load the configuration, build the configured modes (the HTTP gateway, the tunnels) and
// the shared status listener, start them; SIGHUP reloads every mode's trust; SIGTERM/SIGINT drain and exit 0 (a second
// signal forces exit). The only module that exits the process.
import type { Logger } from 'pino'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { loadAll, loadConfig, maskedConfig, type LoadOptions } from './config/load.js'
import type { Config } from './config/model.js'
import { createLogger } from './observe/logger.js'
import { createRegistry } from './observe/registry.js'
import { buildStatusApp } from './status/listener.js'
import type { Check, Readiness } from './status/readiness.js'
import { listenError } from './net/listen-error.js'
import type { Mode } from './mode.js'
import type { ReloadResult } from './tls/reloader.js'
import { createGateway } from './gateway/run.js'
import { createTunnels } from './tunnel/run.js'
import { createNotifier } from './net/sd-notify.js'

export interface Running {
  /** The gateway's mTLS URL ('' when only tunnels run). */
  url: string
  statusUrl: string | undefined
  /** Every listener by name (gateway, tunnels). */
  addresses: Record<string, string>
  /** What SIGHUP does: every mode loads its trust again (the outcome of each trust's reload). */
  reload: (trigger: string) => Promise<ReloadResult[]>
  /** What SIGTERM does: drain every mode for up to `shutdown_timeout`, then close. */
  stop: () => Promise<void>
}

/** Readiness of the process: every mode's checks (prefixed by the mode when several run). */
function readinessOf (modes: Mode[]): Readiness {
  const checks: Record<string, Check> = {}
  for (const m of modes) {
    for (const [name, check] of Object.entries(m.readiness())) checks[modes.length > 1 ? `${m.name}.${name}` : name] = check
  }
  return { ready: Object.values(checks).every((c) => c.ok || c.advisory === true), checks }
}

async function buildModes (config: Config, log: Logger, registry: ReturnType<typeof createRegistry>): Promise<Mode[]> {
  const modes: Mode[] = []
  if (config.gateway !== undefined) modes.push(await createGateway(config.gateway, config.common, { log, registry }))
  if (config.tunnels.length > 0) modes.push(await createTunnels(config.tunnels, config.common, { log, registry }))
  return modes
}

async function listenStatus (app: FastifyInstance, config: Config): Promise<string | undefined> {
  const at = config.common.status_listen
  if (at === undefined) return undefined
  try {
    return await app.listen({ host: at.host, port: at.port, listenTextResolver: (a) => `listening on ${a}` })
  } catch (err) {
    throw listenError(err, at)
  }
}

/** Starts every configured mode and the status listener; on any failure closes what had started and rejects. */
export async function startServer (config: Config, logger: Logger): Promise<Running> {
  const registry = createRegistry()
  const modes = await buildModes(config, logger, registry)
  const statusApp = buildStatusApp(logger, () => readinessOf(modes), registry)
  const deadline = config.common.shutdown_timeout
  const stop = async (): Promise<void> => {
    logger.info({ event: 'shutdown', timeoutMs: deadline }, 'draining connections')
    await Promise.allSettled([...modes.map(async (m) => await m.close(deadline)), statusApp.close()])
  }
  let statusUrl: string | undefined
  try {
    for (const m of modes) await m.start()
    statusUrl = await listenStatus(statusApp, config)
  } catch (err) {
    // nothing may keep the process alive after a failed start (timers, watchers, the other listeners)
    await stop()
    throw err
  }
  const addresses = Object.assign({}, ...modes.map((m) => m.addresses())) as Record<string, string>
  logger.info({ event: 'listening', url: addresses.gateway, statusUrl, addresses, modes: modes.map((m) => m.name) }, 'mtls-ambassador listening')
  const reload = async (trigger: string): Promise<ReloadResult[]> =>
    (await Promise.all(modes.map(async (m) => await m.reload(trigger)))).flat()
  return { url: addresses.gateway ?? '', statusUrl, addresses, reload, stop }
}

/** `mtls-ambassador serve`: runs until SIGTERM/SIGINT; exits 1 on a startup error (listing every problem). */
export async function serve (opts: LoadOptions): Promise<void> {
  let logger: Logger = createLogger({ debug_log: false, log_level: 'info' })
  let running: Running
  let config: Config
  try {
    const loaded = loadAll(opts)
    const settings = loaded.settings
    config = loaded.config
    logger = createLogger(config.common)
    logger.info({ event: 'config', config: maskedConfig(settings) }, 'effective configuration')
    running = await startServer(config, logger)
  } catch (err) {
    // the message's first line says what failed ("cannot listen on 127.0.0.1:8080: address already in use")
    const what = (err as Error).message.split('\n')[0] ?? ''
    logger.fatal({ code: (err as { code?: string }).code, err }, `startup failed: ${what}`)
    process.exit(1)
  }
  // systemd (Type=notify / notify-reload): ready once everything listens, reloading around SIGHUP, stopping
  const systemd = createNotifier(config.common.systemd)
  const tell = (msg: Parameters<typeof systemd.notify>[0]): void => {
    systemd.notify(msg).then((r) => {
      if (r.problem !== undefined) logger.warn({ event: 'sd_notify', problem: r.problem }, 'systemd notification failed')
    }, () => {})
  }
  tell({ ready: true, status: 'serving' })
  // SIGHUP is a reload, not a stop; a second SIGTERM/SIGINT during the drain exits at once (close-with-grace)
  closeWithGrace({
    delay: config.common.shutdown_timeout + 5000,
    skip: ['SIGHUP'],
    logger: { error: (msg: unknown) => logger.error({ event: 'shutdown_forced' }, String(msg)) }
  }, async ({ signal, err }) => {
    if (err !== undefined) logger.fatal({ err }, 'stopping after an unexpected error')
    else logger.info({ event: 'signal', signal }, 'stopping')
    tell({ stopping: true })
    await running.stop()
  })
  process.on('SIGHUP', () => {
    tell({ reloading: true })
    running.reload('SIGHUP').finally(() => { tell({ ready: true, status: 'serving' }) }).catch(() => {})
  })
}

export { loadConfig }
