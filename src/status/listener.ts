// The plain-HTTP status listener (its own port, no client certificate, for kubelets and load balancers):
// /status and /healthz say the process is alive, /readyz whether it can serve devices (never waits on Mender),
// /metrics is Prometheus.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Readiness } from './readiness.js'

export const STATUS_OK = { status: 'ok' } as const

/** What /metrics serves: a process's registry, or the metrics of a cluster's workers put together. */
export type MetricsSource = Pick<Registry, 'contentType' | 'metrics'>

export function buildStatusApp (
  logger: Logger, ready: () => Readiness | Promise<Readiness>, registry: MetricsSource
): FastifyInstance {
  const app = fastify({ loggerInstance: logger.child({ listener: 'status' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })
  app.get('/status', async () => STATUS_OK)
  app.get('/healthz', async () => STATUS_OK)
  app.get('/readyz', async (_request, reply) => {
    const r = await ready()
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks })
  })
  app.get('/metrics', async (_request, reply) => await reply.type(registry.contentType).send(await registry.metrics()))
  return app
}
