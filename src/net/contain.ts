// Containment for socket-event handlers on a connection's path: a throw destroys that one socket, is logged with
// MTLS_ERR_TLS_INTERNAL and counted; it never reaches the event emitter (which would end the process).
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { TlsReasons } from '../errors.js'

export interface ContainOptions {
  log: Logger
  onRefused?: (reason: typeof TlsReasons.INTERNAL) => void
}

/** Runs `handler`; when it throws, destroys `socket` (if any), logs and counts the failure. Never throws. */
export function contained (o: ContainOptions, where: string, socket: Socket | undefined, handler: () => void): void {
  try {
    handler()
  } catch (err) {
    try {
      socket?.destroy()
      const fields = { code: TlsReasons.INTERNAL, where, remote: socket?.remoteAddress, cause: (err as Error)?.message }
      o.log.error(fields, 'connection handler failed, socket closed')
      o.onRefused?.(TlsReasons.INTERNAL)
    } catch { /* the log or the counter itself failed: the socket is closed, nothing more can be done */ }
  }
}
