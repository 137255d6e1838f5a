// Abuse limits outside the auth route's rate limit: caps on open connections in total and per source address
// (net/connection-limits, before any TLS work), and back-pressure that answers 503 + Retry-After while the event
// loop lags by more than the threshold (measured in event-loop-lag.ts).
import type { Server } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { HttpErrors, LogCodes, NetReasons, TlsReasons } from '../errors.js'
import { sendError } from './error-reply.js'
import { EventLoopLag } from '../observe/event-loop-lag.js'
import { limitConnections as capConnections } from '../net/connection-limits.js'
import { cappedConnections, openFileLimit } from '../net/fd-limit.js'

export const RETRY_AFTER_SECONDS = 10

/**
 * The gateway's connection caps (`max_connections`, `max_connections_per_ip`), counted on the TCP socket before any
 * TLS work: a refused socket is reset and logged with MTLS_ERR_TLS_CONN_LIMIT, and never reaches the TLS layer. The
 * total cap is lowered to what the open-file limit can carry (logged once, MTLS_WARN_FD_LIMIT), so running out of
 * descriptors is a logged refusal, never a connection the kernel drops unseen nor a dial to Mender that fails; an
 * accept that still fails is logged (MTLS_ERR_ACCEPT) and the gateway keeps serving.
 */
export function limitConnections (
  server: Server,
  o: { max: number, perIp: number, log: Logger, onRefused: (reason: string) => void, fileLimit?: number | undefined }
): void {
  const fileLimit = 'fileLimit' in o ? o.fileLimit : openFileLimit()
  const { max, lowered } = cappedConnections(o.max, fileLimit)
  if (lowered) {
    o.log.warn({ code: LogCodes.FD_LIMIT, openFileLimit: fileLimit, maxConnections: max, configured: o.max },
      'open device connections capped by the open-file limit')
  }
  // an accept that fails once listening (EMFILE, ENFILE, ENOBUFS) is an 'error' event: logged, never a crash
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (server.listening) o.log.error({ code: LogCodes.ACCEPT_FAILED, cause: err.code ?? err.message }, 'accepting a connection failed')
  })
  capConnections(server, {
    maxConnections: max,
    maxPerSource: o.perIp,
    onRefused: (r) => {
      const which = r.reason === NetReasons.CONN_LIMIT_TOTAL
        ? `total ${max}${lowered ? ` (open-file limit ${String(fileLimit)})` : ''}`
        : `per address ${o.perIp}`
      const fields = { code: TlsReasons.CONN_LIMIT, remote: r.source, limit: which }
      o.log.warn(fields, 'connection refused: too many open connections')
      // contained: a throw here must never escape the 'connection' event
      try {
        o.onRefused(TlsReasons.CONN_LIMIT)
      } catch (err) {
        const cause = (err as Error).message
        o.log.error({ code: TlsReasons.INTERNAL, where: 'connection', cause }, 'connection handler failed')
      }
    }
  })
}

/** How often the event-loop delay is sampled: a gateway that starts lagging sheds within a fraction of a second. */
export const LAG_SAMPLE_INTERVAL_MS = 100

/** Answers 503 + Retry-After (MTLS_ERR_OVERLOADED) while the measured event-loop delay exceeds the threshold. */
export async function backPressure (app: FastifyInstance, maxEventLoopDelay: number): Promise<void> {
  if (maxEventLoopDelay <= 0) return
  const lag = new EventLoopLag(LAG_SAMPLE_INTERVAL_MS)
  lag.start()
  app.addHook('onClose', async () => { lag.stop() })
  app.addHook('onRequest', async (request, reply) => {
    const delay = lag.delayMs
    if (delay <= maxEventLoopDelay) return
    const value = Math.round(delay)
    request.log.warn({ code: 'MTLS_ERR_OVERLOADED', pressure: 'eventLoopDelay', value }, 'shedding load')
    reply.header('retry-after', String(RETRY_AFTER_SECONDS))
    return await sendError(request, reply, new HttpErrors.OVERLOADED())
  })
}
