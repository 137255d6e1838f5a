// Abuse limits outside the auth route's rate limit: a cap on open connections in total and per source address
// (counted on the TCP socket, before any TLS work), and back-pressure that answers 503 + Retry-After while the event
// loop lags (@fastify/under-pressure).
import type { Server } from 'node:net'
import type { FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import type { Logger } from 'pino'
import { HttpErrors, TlsReasons } from './errors.js'
import { sendError } from './error-reply.js'
import { contained } from './tls/contain.js'

export const RETRY_AFTER_SECONDS = 10

export function limitConnections (server: Server, o: { max: number, perIp: number, log: Logger, onRefused: (reason: string) => void }): void {
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

export async function backPressure (app: FastifyInstance, maxEventLoopDelay: number): Promise<void> {
  if (maxEventLoopDelay <= 0) return
  await app.register(underPressure, {
    maxEventLoopDelay,
    // sample often: a gateway that starts lagging should shed load within a fraction of a second
    sampleInterval: 100,
    retryAfter: RETRY_AFTER_SECONDS,
    pressureHandler: async (request, reply, type, value) => {
      request.log.warn({ code: 'MTLS_ERR_OVERLOADED', pressure: type, value }, 'shedding load')
      reply.header('retry-after', String(RETRY_AFTER_SECONDS))
      return await sendError(request, reply, new HttpErrors.OVERLOADED())
    }
  })
}
