// Abuse limits outside the auth route's rate limit: a cap on open connections in total and per source address
// (counted on the TCP socket, before any TLS work), and back-pressure that answers 503 + Retry-After while the event
// loop lags by more than the threshold (measured in event-loop-lag.ts).
import type { Server } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { HttpErrors, TlsReasons } from '../errors.js'
import { sendError } from './error-reply.js'
import { EventLoopLag } from '../observe/event-loop-lag.js'
import { contained } from '../net/contain.js'

export const RETRY_AFTER_SECONDS = 10

export function limitConnections (
  server: Server, o: { max: number, perIp: number, log: Logger, onRefused: (reason: string) => void }
): void {
  if (o.max > 0) server.maxConnections = o.max
  if (o.perIp <= 0) return
  const perIp = new Map<string, number>()
  // contained: a throw here must close this one socket, never escape the 'connection' event
  server.on('connection', (socket) => contained(o, 'connection', socket, () => {
    const ip = socket.remoteAddress ?? ''
    const open = (perIp.get(ip) ?? 0) + 1
    if (open > o.perIp) {
      o.log.warn({ code: TlsReasons.CONN_LIMIT, remote: ip, limit: o.perIp }, 'connection refused: too many from this address')
      o.onRefused(TlsReasons.CONN_LIMIT)
      socket.destroy()
      return
    }
    perIp.set(ip, open)
    socket.once('close', () => {
      const left = (perIp.get(ip) ?? 1) - 1
      if (left <= 0) perIp.delete(ip)
      else perIp.set(ip, left)
    })
  }))
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
