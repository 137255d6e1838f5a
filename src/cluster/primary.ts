// The primary process of a cluster: forks the workers (each runs every configured mode on the shared listeners) with
// one ticket secret, and answers for all of them: readiness (ready only when every worker is), metrics (every
// worker's put together, with the primary's own), reload (every worker) and stop (every worker drains). It serves no
// device itself.
import cluster from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client'
import type { Check, Readiness } from '../status/readiness.js'
import type { MetricsSource } from '../status/listener.js'
import type { ReloadResult } from '../tls/reloader.js'
import { newTicketSecret } from '../tls/ticket-keys.js'
import type { Started } from './member.js'
import { WorkerPool, type Answer } from './pool.js'

/** How long the primary waits for a worker's answer to a readiness or metrics request (ms). */
const ASK_MS = 5000

export interface ClusterOptions {
  count: number
  log: Logger
  /** The primary's own registry (its process metrics, and the cluster's gauges). */
  registry: Registry
  /** A worker's reload gets this long to answer (ms). */
  reloadMs?: number
  restartMs?: { min: number, max: number }
}

/** Every worker's checks under the same names: a check holds when it holds in every worker. */
export function combineReadiness (answers: Array<Answer<'readiness'>>, expected: number): Readiness {
  const checks: Record<string, Check> = {}
  let ready = 0
  for (const a of answers) {
    if (!a.ok) continue
    if (a.value.ready) ready++
    for (const [name, c] of Object.entries(a.value.checks)) {
      const seen = checks[name]
      if (seen === undefined || (seen.ok && !c.ok)) {
        checks[name] = c.ok ? c : { ...c, detail: `worker ${a.worker}: ${c.detail ?? 'failing'}` }
      }
    }
  }
  checks.workers = ready === expected
    ? { ok: true, detail: `${ready} of ${expected} ready` }
    : { ok: false, detail: `${ready} of ${expected} ready` }
  return { ready: Object.values(checks).every((c) => c.ok || c.advisory === true), checks }
}

export class Cluster {
  private readonly pool: WorkerPool

  constructor (private readonly o: ClusterOptions) {
    const restarts = new Counter({ name: 'mtls_worker_restarts_total', help: 'Workers started again after an unexpected exit', registers: [o.registry] })
    this.pool = new WorkerPool({
      count: o.count,
      log: o.log,
      secret: newTicketSecret().toString('hex'),
      fork: () => cluster.fork(),
      restartMs: o.restartMs,
      onRestart: () => restarts.inc()
    })
    const pool = this.pool
    // eslint-disable-next-line no-new -- a gauge registers itself and reads the pool at scrape time
    new Gauge({ name: 'mtls_workers', help: 'Worker processes listening', registers: [o.registry], collect () { this.set(pool.listening) } })
  }

  /** Forks every worker; resolves once all listen, or rejects with the first startup failure (all stopped). */
  async start (): Promise<Started> {
    try {
      return await this.pool.start()
    } catch (err) {
      await this.pool.stop(0, 1000)
      throw err
    }
  }

  async readiness (): Promise<Readiness> {
    return combineReadiness(await this.pool.ask('readiness', ASK_MS), this.pool.size)
  }

  /** /metrics: the primary's and every answering worker's, aggregated per metric (sums unless the metric says). */
  get metrics (): MetricsSource {
    const { registry } = this.o
    return {
      contentType: registry.contentType,
      metrics: async () => {
        const answers = await this.pool.ask('metrics', ASK_MS)
        const all = [await registry.getMetricsAsJSON(), ...answers.flatMap((a) => a.ok ? [a.value] : [])]
        return await AggregatorRegistry.aggregate(all).metrics()
      }
    }
  }

  /** Every worker reloads; a worker that does not answer counts as a failed reload. */
  async reload (trigger: string): Promise<ReloadResult[]> {
    const answers = await this.pool.ask('reload', this.o.reloadMs ?? 60_000, trigger)
    const results = answers.flatMap((a): ReloadResult[] => a.ok
      ? a.value
      : [{ ok: false, changed: false, trigger, at: new Date(), error: `worker ${a.worker}: ${a.error}` }])
    this.o.log.info({ event: 'workers_reloaded', trigger, workers: answers.length, ok: results.every((r) => r.ok) },
      'every worker reloaded')
    return results
  }

  async stop (deadlineMs: number): Promise<void> { await this.pool.stop(deadlineMs) }
}
