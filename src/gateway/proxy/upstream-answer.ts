// What the gateway answers when forwarding to Mender failed: Mender's failure in Mender's error shape (502/503/504),
// unless the device's own connection ended first (timed out, reset, the client stopped): then nobody is left to
// answer, nothing is Mender's failure, and one info line `device_gone` says so. Used by the device proxy and by the
// auth request's forward alike, and by the error handler for errors raised after the device left (a response
// stream aborted because its request was).
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendError } from '../error-reply.js'
import { upstreamFailure } from '../mender/upstream-error.js'

/** True when nothing can be answered any more: the device's connection is closed or already ended by the gateway. */
export function deviceGone (res: ServerResponse): boolean {
  const socket = res.socket
  // an HTTP/2 answer belongs to a stream, which the device can reset while its connection stays
  const stream = (res as { stream?: { destroyed?: boolean } }).stream
  return res.destroyed || stream?.destroyed === true || socket === null || socket.destroyed || socket.writableEnded
}

/** Ends a request whose device went away: one info line, the answer's resources released. */
export function dropGone (request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  request.log.info({ event: 'device_gone', cause: (error as Error | undefined)?.message }, 'device connection ended before the answer')
  reply.raw.destroy()
}

/** Answers a failed forward of `request` (or only logs that the device went away). */
export function answerUpstreamError (request: FastifyRequest, reply: FastifyReply, error: Error): void {
  if (deviceGone(reply.raw as ServerResponse)) dropGone(request, reply, error)
  else sendError(request, reply, upstreamFailure(error))
}
