// Process entry for `serve`: load the configuration, build the configured modes (the HTTP gateway, the tunnels) and
// the shared status listener, start them; SIGHUP reloads every mode's trust; SIGTERM/SIGINT drain and exit 0 (a second
// signal forces exit). With `workers` above 1 this process is a cluster's primary (status listener, signals, systemd)
// and its workers run the modes on the shared listeners. The only module that exits the process.
import cluster from 'node:cluster'
import { pino, type Logger } from 'pino'
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
import { createNotifier, type NotifyMessage } from './net/sd-notify.js'
import { Cluster } from './cluster/primary.js'
import { workerCount } from './cluster/count.js'
import { answerRequests, joinCluster, reportFailed, reportStarted } from './cluster/worker.js'
import { shareTicketSecret } from './tls/ticket-keys.js'

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
  // loaded where they run: a cluster's primary serves no device and need not hold them in memory
  if (config.gateway !== undefined) {
    const { createGateway } = await import('./gateway/run.js')
    modes.push(await createGateway(config.gateway, config.common, { log, registry }))
  }
  if (config.tunnels.length > 0) {
    const { createTunnels } = await import('./tunnel/run.js')
    modes.push(await createTunnels(config.tunnels, config.common, { log, registry }))
  }
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

interface ModesRunning {
  modes: Mode[]
  addresses: Record<string, string>
  readiness: () => Readiness
  reload: (trigger: string) => Promise<ReloadResult[]>
  /** Drains every mode for up to `shutdown_timeout`, then closes them. */
  stop: () => Promise<void>
}

/** Builds and starts every configured mode; on any failure closes what had started and rejects. */
async function startModes (
  config: Config, logger: Logger, registry: ReturnType<typeof createRegistry>
): Promise<ModesRunning> {
  const modes = await buildModes(config, logger, registry)
  const deadline = config.common.shutdown_timeout
  const stop = async (): Promise<void> => {
    logger.info({ event: 'shutdown', timeoutMs: deadline }, 'draining connections')
    await Promise.allSettled(modes.map(async (m) => await m.close(deadline)))
  }
  try {
    for (const m of modes) await m.start()
  } catch (err) {
    // nothing may keep the process alive after a failed start (timers, watchers, the other listeners)
    await stop()
    throw err
  }
  const addresses = Object.assign({}, ...modes.map((m) => m.addresses())) as Record<string, string>
  const reload = async (trigger: string): Promise<ReloadResult[]> =>
    (await Promise.all(modes.map(async (m) => await m.reload(trigger)))).flat()
  return { modes, addresses, readiness: () => readinessOf(modes), reload, stop }
}

/** Starts every configured mode and the status listener; on any failure closes what had started and rejects. */
export async function startServer (config: Config, logger: Logger): Promise<Running> {
  const registry = createRegistry()
  const running = await startModes(config, logger, registry)
  const statusApp = buildStatusApp(logger, running.readiness, registry)
  const stop = async (): Promise<void> => { await Promise.allSettled([running.stop(), statusApp.close()]) }
  let statusUrl: string | undefined
  try {
    statusUrl = await listenStatus(statusApp, config)
  } catch (err) {
    await stop()
    throw err
  }
  const { addresses, modes } = running
  logger.info({ event: 'listening', url: addresses.gateway, statusUrl, addresses, modes: modes.map((m) => m.name) }, 'mtls-ambassador listening')
  return { url: addresses.gateway ?? '', statusUrl, addresses, reload: running.reload, stop }
}

/** The primary of `count` workers: they run the modes, it runs the status listener and answers for all of them. */
async function startCluster (config: Config, logger: Logger, count: number): Promise<Running> {
  const group = new Cluster({ count, log: logger, registry: createRegistry() })
  const statusApp = buildStatusApp(logger, async () => await group.readiness(), group.metrics)
  const deadline = config.common.shutdown_timeout
  const stop = async (): Promise<void> => {
    logger.info({ event: 'shutdown', timeoutMs: deadline, workers: count }, 'draining connections')
    await Promise.allSettled([group.stop(deadline), statusApp.close()])
  }
  let started: Awaited<ReturnType<Cluster['start']>>
  let statusUrl: string | undefined
  try {
    started = await group.start()
    statusUrl = await listenStatus(statusApp, config)
  } catch (err) {
    await stop()
    throw err
  }
  const { addresses, modes } = started
  logger.info({ event: 'listening', url: addresses.gateway, statusUrl, addresses, modes, workers: count }, 'mtls-ambassador listening')
  return { url: addresses.gateway ?? '', statusUrl, addresses, reload: async (t) => await group.reload(t), stop }
}

/** A cluster's worker: the modes on the shared listeners, driven by the primary (signals are the primary's own). */
async function serveWorker (opts: LoadOptions): Promise<void> {
  let logger: Logger = createLogger({ debug_log: false, log_level: 'info' })
  let running: ModesRunning
  const registry = createRegistry()
  try {
    shareTicketSecret(await joinCluster())
    const config = loadAll(opts).config
    // every worker writes to the same stdout: one write per line keeps lines whole (a pipe write of up to 4 KiB is
    // atomic), where batched writes of several lines could interleave with another worker's
    logger = createLogger(config.common, pino.destination({ fd: 1, sync: true })).child({ worker: cluster.worker?.id })
    running = await startModes(config, logger, registry)
  } catch (err) {
    // the primary logs the failure, as a single process would, and stops every worker
    reportFailed(err)
    process.exit(1)
  }
  answerRequests({
    readiness: async () => running.readiness(),
    metrics: async () => await registry.getMetricsAsJSON(),
    reload: async (trigger) => await running.reload(trigger ?? 'SIGHUP'),
    stop: async () => {
      await running.stop()
      setImmediate(() => process.exit(0))
      return null
    }
  })
  workerSignals(running, logger)
  reportStarted(running.addresses.gateway ?? '', running.addresses, running.modes.map((m) => m.name))
}

/**
 * A worker leaves SIGTERM/SIGINT to the primary (a terminal's or a control group's own copy must not cut its drain
 * short), reloads itself on its own SIGHUP, drains then exits 1 after an unexpected error (the primary replaces it).
 */
function workerSignals (running: ModesRunning, logger: Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => {})
  process.on('SIGHUP', () => { running.reload('SIGHUP').catch(() => {}) })
  let failing = false
  const fail = (err: unknown): void => {
    logger.fatal({ err }, 'stopping after an unexpected error')
    if (failing) process.exit(1)
    failing = true
    running.stop().finally(() => process.exit(1))
  }
  process.on('uncaughtException', fail)
  process.on('unhandledRejection', fail)
}

/** One process (workers: 1, exactly as without workers), or the primary of a cluster. */
async function startProcess (config: Config, logger: Logger): Promise<Running> {
  const workers = workerCount(config)
  if (config.common.workers !== 1) {
    logger.info({ event: 'workers', workers: workers.count, reason: workers.reason }, 'worker processes')
  }
  return workers.count > 1 ? await startCluster(config, logger, workers.count) : await startServer(config, logger)
}

/** systemd (Type=notify / notify-reload), from this process only: ready once all listen, reloading, stopping. */
function systemdTeller (config: Config, logger: Logger): (msg: NotifyMessage) => void {
  const systemd = createNotifier(config.common.systemd)
  return (msg) => {
    systemd.notify(msg).then((r) => {
      if (r.problem !== undefined) logger.warn({ event: 'sd_notify', problem: r.problem }, 'systemd notification failed')
    }, () => {})
  }
}

/** `mtls-ambassador serve`: runs until SIGTERM/SIGINT; exits 1 on a startup error (listing every problem). */
export async function serve (opts: LoadOptions): Promise<void> {
  if (cluster.isWorker) {
    await serveWorker(opts)
    return
  }
  let logger: Logger = createLogger({ debug_log: false, log_level: 'info' })
  let running: Running
  let config: Config
  try {
    const loaded = loadAll(opts)
    const settings = loaded.settings
    config = loaded.config
    logger = createLogger(config.common)
    logger.info({ event: 'config', config: maskedConfig(settings) }, 'effective configuration')
    running = await startProcess(config, logger)
  } catch (err) {
    // the message's first line says what failed ("cannot listen on 127.0.0.1:8080: address already in use")
    const what = (err as Error).message.split('\n')[0] ?? ''
    logger.fatal({ code: (err as { code?: string }).code, err }, `startup failed: ${what}`)
    process.exit(1)
  }
  const tell = systemdTeller(config, logger)
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
