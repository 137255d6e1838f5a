// Caps on a net.Server or tls.Server: open connections in total and per source address, checked on the accepted
// socket before any TLS work (refused sockets never reach the TLS listener), with a reason code per refusal; and a
// per-connection setup deadline (handshake + dial) that destroys a socket which never gets going.
import { isIP, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { NetReasons } from '../errors.js'
import { ipv6Bytes, normalizeIp } from './ip-bytes.js'

export type LimitReason = typeof NetReasons.CONN_LIMIT_TOTAL | typeof NetReasons.CONN_LIMIT_SOURCE

export interface Refusal {
  reason: LimitReason
  /** The source key: the IPv4 address, the IPv6 prefix, or 'local' (Unix sockets, unknown peers). */
  source: string
  /** Connections open when this one was refused, in total and from its source. */
  open: number
  openFromSource: number
}

export interface ConnectionLimitOptions {
  /** Most open connections at once; 0 or unset: no cap. */
  maxConnections?: number
  /** Most open connections from one source; 0 or unset: no cap. */
  maxPerSource?: number
  /** IPv6 sources are grouped by this prefix (default 64: one host usually owns a /64). */
  ipv6PrefixBits?: number
  onRefused?: (refusal: Refusal) => void
}

export interface ConnectionLimiter {
  readonly open: number
  openFrom: (source: string) => number
  /** Removes the gate and gives the server its own 'connection' listeners back. */
  detach: () => void
}

type Listener = (socket: Socket) => void

function checkCount (name: string, n: number | undefined, max = Number.MAX_SAFE_INTEGER): number {
  if (n === undefined) return 0
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RangeError(`${name} must be an integer from 0 to ${max}`)
  return n
}

/** The bucket a peer address counts in. */
export function sourceKey (remoteAddress: string | undefined, ipv6PrefixBits = 64): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'local'
  const ip = normalizeIp(remoteAddress)
  if (isIP(ip) === 4) return ip
  if (isIP(ip) !== 6) return 'local'
  const bytes = ipv6Bytes(ip)
  for (let bit = ipv6PrefixBits; bit < 128; bit++) {
    bytes.writeUInt8((bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7)) & 0xff, bit >> 3)
  }
  return `${bytes.toString('hex')}/${ipv6PrefixBits}`
}

/** Closes a refused socket at once: a TCP reset (no TIME_WAIT kept for it), a plain destroy otherwise. */
function refuse (socket: Socket): void {
  socket.on('error', () => {})
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

/**
 * Puts a gate in front of the server's 'connection' listeners (tls.createServer adds its TLS one at construction):
 * install it after every other 'connection' listener, as later ones run for refused sockets too.
 */
export function limitConnections (server: Server, opts: ConnectionLimitOptions): ConnectionLimiter {
  const counts = new OpenCounts(
    checkCount('maxConnections', opts.maxConnections),
    checkCount('maxPerSource', opts.maxPerSource),
    checkCount('ipv6PrefixBits', opts.ipv6PrefixBits ?? 64, 128),
    opts.onRefused
  )
  const inner = server.rawListeners('connection') as Listener[]
  server.removeAllListeners('connection')
  const gate = (socket: Socket): void => {
    if (counts.admit(socket)) for (const l of inner) l.call(server, socket)
  }
  server.on('connection', gate)
  return {
    get open () { return counts.open },
    openFrom: (source) => counts.from(source),
    detach: () => {
      server.off('connection', gate)
      for (const l of inner) server.on('connection', l)
    }
  }
}

/** Open connections in total and per source; admits a socket (counting it until it closes) or refuses it. */
class OpenCounts {
  open = 0
  private readonly bySource = new Map<string, number>()

  constructor (
    private readonly max: number, private readonly perSource: number, private readonly bits: number,
    private readonly onRefused: ConnectionLimitOptions['onRefused']
  ) {}

  from (source: string): number { return this.bySource.get(source) ?? 0 }

  admit (socket: Socket): boolean {
    const source = sourceKey(socket.remoteAddress, this.bits)
    const fromSource = this.from(source)
    const reason = this.max > 0 && this.open >= this.max
      ? NetReasons.CONN_LIMIT_TOTAL
      : this.perSource > 0 && fromSource >= this.perSource ? NetReasons.CONN_LIMIT_SOURCE : undefined
    if (reason !== undefined) {
      refuse(socket)
      this.onRefused?.({ reason, source, open: this.open, openFromSource: fromSource })
      return false
    }
    this.open++
    this.bySource.set(source, fromSource + 1)
    socket.once('close', () => {
      this.open--
      const left = this.from(source) - 1
      if (left > 0) this.bySource.set(source, left)
      else this.bySource.delete(source)
    })
    return true
  }
}

/**
 * Destroys `socket` unless done() is called within `ms` (e.g. TLS handshake plus dialling the target); onExpire
 * gets MTLS_ERR_CONN_SETUP_TIMEOUT first. The timer goes with the socket's close or done(), whichever comes first.
 */
export function setupDeadline (socket: Duplex, ms: number,
  onExpire?: (reason: typeof NetReasons.CONN_SETUP_TIMEOUT) => void): { done: () => void } {
  if (!Number.isInteger(ms) || ms <= 0 || ms > 0x7fffffff) {
    throw new RangeError('setup deadline must be a positive integer of ms')
  }
  const cleanup = (): void => {
    clearTimeout(timer)
    socket.off('close', cleanup)
  }
  const timer = setTimeout(() => {
    cleanup()
    onExpire?.(NetReasons.CONN_SETUP_TIMEOUT)
    socket.destroy()
  }, ms)
  socket.once('close', cleanup)
  return { done: cleanup }
}
