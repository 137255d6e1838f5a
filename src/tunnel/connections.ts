// The connections of one tunnel: each carried connection is piped (half-close, back-pressure, idle and close
// timeouts), logged once when it ends (peer identity, bytes each way, duration, close reason) and counted; refusals
// and failures are logged with their code. Shutdown ends what is still open after the drain deadline.
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { pipeSockets, type Pipe } from '../net/pipe.js'
import type { PeerIdentity } from '../tls/peer.js'
import type { TunnelMetrics } from './metrics.js'

export interface ConnectionOptions {
  name: string
  log: Logger
  metrics: TunnelMetrics
  idleTimeoutMs: number
  closeTimeoutMs: number
}

/** Log fields of a peer certificate (never the certificate itself). */
export const peerFields = (peer: PeerIdentity | undefined): Record<string, string> | undefined =>
  peer === undefined
    ? undefined
    : { cn: peer.cn, serial: peer.serial, fingerprint: peer.fingerprint, subject: peer.subject }

export class TunnelConnections {
  private readonly open = new Set<Pipe>()
  /** Every accepted socket until it closes: in its handshake, dialling its target, or carried. */
  private readonly accepted = new Set<Duplex>()
  private drained: (() => void) | undefined

  constructor (private readonly o: ConnectionOptions) {}

  get size (): number { return this.open.size }

  /** Counts an accepted socket (the listener's 'connection') until it closes, so a drain waits for it too. */
  track (socket: Duplex): void {
    this.accepted.add(socket)
    socket.once('close', () => {
      this.accepted.delete(socket)
      if (this.accepted.size === 0 && this.open.size === 0) this.drained?.()
    })
  }

  /** Carries bytes between the accepted side and the dialled side until both have closed. */
  carry (accepted: Duplex, dialled: Duplex, info: { remote: string | undefined, peer?: PeerIdentity }): void {
    const { name, log, metrics } = this.o
    const pipe = pipeSockets(accepted, dialled, {
      idleTimeoutMs: this.o.idleTimeoutMs,
      closeTimeoutMs: this.o.closeTimeoutMs,
      onClose: (stats) => {
        this.open.delete(pipe)
        metrics.connections.inc({ tunnel: name, result: 'ok' })
        metrics.bytes.inc({ tunnel: name, direction: 'in' }, stats.bytesAtoB)
        metrics.bytes.inc({ tunnel: name, direction: 'out' }, stats.bytesBtoA)
        metrics.duration.observe({ tunnel: name }, stats.durationMs / 1000)
        log.info({
          event: 'tunnel_connection',
          tunnel: name,
          remote: info.remote,
          peer: peerFields(info.peer),
          bytesIn: stats.bytesAtoB,
          bytesOut: stats.bytesBtoA,
          durationMs: Math.round(stats.durationMs),
          reason: stats.reason
        }, 'tunnel connection closed')
        if (this.open.size === 0 && this.accepted.size === 0) this.drained?.()
      }
    })
    this.open.add(pipe)
  }

  /** A connection that never carried a byte: refused (policy) or failed (target or remote unreachable). */
  notCarried (result: 'refused' | 'failed', fields: Record<string, unknown>, msg: string): void {
    this.o.metrics.connections.inc({ tunnel: this.o.name, result })
    this.o.log.warn({ event: 'tunnel_connection', tunnel: this.o.name, result, ...fields }, msg)
  }

  /**
   * Resolves once every accepted connection has closed (those still in their handshake or dialling included), or
   * after `deadlineMs`, when the rest are ended; returns how many were cut.
   */
  async drain (deadlineMs: number): Promise<number> {
    if (this.open.size === 0 && this.accepted.size === 0) return 0
    const done = new Promise<void>((resolve) => { this.drained = resolve })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<'deadline'>((resolve) => { timer = setTimeout(() => resolve('deadline'), deadlineMs) })
    const first = await Promise.race([done, deadline])
    clearTimeout(timer)
    if (first !== 'deadline') return 0
    const cut = Math.max(this.open.size, this.accepted.size)
    for (const pipe of [...this.open]) pipe.destroy('shutdown')
    for (const socket of [...this.accepted]) socket.destroy()
    return cut
  }
}
