// Joins two sockets (TCP, Unix, TLS or any Duplex) into one tunnel: bytes both ways with back-pressure, half-close
// propagated each way after a flush, idle and close timeouts, errors on either side destroying both, and one
// onClose(stats) carrying a stable reason once both sockets are closed.
import type { Duplex } from 'node:stream'

export type PipeReason =
  | 'a_closed' | 'b_closed' | 'both_ended' | 'idle_timeout' | 'close_timeout' | 'shutdown'
  | `error_a:${string}` | `error_b:${string}`

export interface PipeStats { bytesAtoB: number, bytesBtoA: number, durationMs: number, reason: string }

export interface PipeOptions {
  /** No byte either way (read, or drained by a slow reader) for this long destroys both; 0 or unset: never. */
  idleTimeoutMs?: number
  /** Once one direction has ended, the other may take this long to end too; 0 or unset: unlimited. */
  closeTimeoutMs?: number
  /** Turn Nagle off on both sockets where they have it (default true). */
  noDelay?: boolean
  /** Called once, after both sockets have closed. */
  onClose?: (stats: PipeStats) => void
}

export interface Pipe {
  /** Resolves with the same stats onClose gets. */
  readonly closed: Promise<PipeStats>
  /** Ends the tunnel now: both sockets destroyed, onClose with `reason` (default 'shutdown'). */
  destroy: (reason?: string) => void
  /** Bytes moved so far. */
  bytes: () => { bytesAtoB: number, bytesBtoA: number }
  /**
   * Stops moving bytes (later reads are dropped) and leaves both sockets open for the owner to write a last word and
   * end them; once both have closed (or destroy() is called), onClose gets `reason`.
   */
  hold: (reason: string) => void
}

type Side = 'a' | 'b'
/** One direction: src's bytes into dst. `ended`: src gave EOF; `finished`: dst's write side is shut after a flush. */
interface Leg { src: Duplex, dst: Duplex, side: Side, bytes: number, ended: boolean, finished: boolean }

const errorCode = (err: unknown): string => {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code) ? code : 'UNKNOWN'
}

function checkMs (name: string, ms: number | undefined): number {
  if (ms === undefined) return 0
  if (!Number.isInteger(ms) || ms < 0 || ms > 0x7fffffff) throw new RangeError(`${name} must be an integer of ms >= 0`)
  return ms
}

/** Destroys a socket; after an error on the other side a TCP socket is reset so its peer sees an abort, not EOF. */
function kill (s: Duplex, reset: boolean): void {
  if (s.destroyed) return
  const tcp = s as Duplex & { resetAndDestroy?: () => void, connecting?: boolean }
  if (reset && typeof tcp.resetAndDestroy === 'function' && tcp.connecting !== true) {
    try {
      tcp.resetAndDestroy()
      return
    } catch {}
  }
  s.destroy()
}

class SocketPipe implements Pipe {
  readonly closed: Promise<PipeStats>
  private report: (stats: PipeStats) => void = () => {}
  private readonly ab: Leg
  private readonly ba: Leg
  private readonly started = performance.now()
  private last = this.started
  private reason: string | undefined
  private held: string | undefined
  private reported = false
  private readonly open = { a: true, b: true }
  private idleTimer: NodeJS.Timeout | undefined
  private closeTimer: NodeJS.Timeout | undefined
  private readonly idleMs: number
  private readonly closeMs: number

  constructor (private readonly a: Duplex, private readonly b: Duplex, private readonly opts: PipeOptions) {
    this.idleMs = checkMs('idleTimeoutMs', opts.idleTimeoutMs)
    this.closeMs = checkMs('closeTimeoutMs', opts.closeTimeoutMs)
    this.ab = { src: a, dst: b, side: 'a', bytes: 0, ended: false, finished: false }
    this.ba = { src: b, dst: a, side: 'b', bytes: 0, ended: false, finished: false }
    this.closed = new Promise((resolve) => { this.report = resolve })
  }

  start (): void {
    this.wire(this.a, 'a', this.ab, this.ba)
    this.wire(this.b, 'b', this.ba, this.ab)
    if (this.idleMs > 0) this.idleTimer = setTimeout(() => this.checkIdle(), this.idleMs)
    for (const leg of [this.ab, this.ba]) {
      if (leg.src.readableEnded) this.onEnd(leg)
      else leg.src.resume()
    }
    if (this.a.destroyed) this.terminate('a_closed')
    else if (this.b.destroyed) this.terminate('b_closed')
  }

  /** `s` is the source of `out` and the destination of `into`. */
  private wire (s: Duplex, side: Side, out: Leg, into: Leg): void {
    s.allowHalfOpen = true
    const nagle = s as Duplex & { setNoDelay?: (on: boolean) => void }
    if (this.opts.noDelay !== false && typeof nagle.setNoDelay === 'function') nagle.setNoDelay(true)
    if (s.closed) this.open[side] = false
    s.on('error', (err) => this.terminate(`error_${side}:${errorCode(err)}`))
    s.on('close', () => this.onSocketClose(side, out, into))
    s.on('data', (chunk: Buffer) => this.onData(out, chunk))
    s.on('end', () => this.onEnd(out))
    s.on('drain', () => this.onDrain(into))
    s.on('finish', () => { into.finished = true; this.checkBothEnded() })
  }

  private onData (leg: Leg, chunk: Buffer): void {
    if (this.reason !== undefined || this.held !== undefined) return
    leg.bytes += chunk.length
    this.last = performance.now()
    if (!leg.dst.write(chunk)) leg.src.pause()
  }

  private onDrain (leg: Leg): void {
    if (this.reason !== undefined || this.held !== undefined) return
    this.last = performance.now()
    if (!leg.ended) leg.src.resume()
  }

  private onEnd (leg: Leg): void {
    if (leg.ended) return
    leg.ended = true
    if (this.reason !== undefined || this.held !== undefined) return
    leg.dst.end()
    if (this.closeMs > 0 && this.closeTimer === undefined) {
      this.closeTimer = setTimeout(() => this.terminate('close_timeout'), this.closeMs)
    }
    this.checkBothEnded()
  }

  private checkBothEnded (): void {
    if (this.ab.ended && this.ab.finished && this.ba.ended && this.ba.finished) this.terminate(this.held ?? 'both_ended')
  }

  /** A socket that ended both ways closes normally and waits for the other; any other close ends the tunnel. */
  private onSocketClose (side: Side, out: Leg, into: Leg): void {
    this.open[side] = false
    if (this.held !== undefined) {
      if (!this.open.a && !this.open.b) this.terminate(this.held)
    } else if (this.reason === undefined && !(out.ended && into.finished)) this.terminate(`${side}_closed`)
    this.maybeReport()
  }

  private checkIdle (): void {
    const quiet = performance.now() - this.last
    if (quiet >= this.idleMs) this.terminate('idle_timeout')
    else this.idleTimer = setTimeout(() => this.checkIdle(), Math.max(1, Math.ceil(this.idleMs - quiet)))
  }

  terminate (reason: string): void {
    if (this.reason !== undefined) return
    this.reason = reason
    clearTimeout(this.idleTimer)
    clearTimeout(this.closeTimer)
    const reset = reason.startsWith('error_')
    kill(this.a, reset)
    kill(this.b, reset)
    this.maybeReport()
  }

  private maybeReport (): void {
    if (this.reason === undefined || this.open.a || this.open.b || this.reported) return
    this.reported = true
    const stats: PipeStats = {
      bytesAtoB: this.ab.bytes,
      bytesBtoA: this.ba.bytes,
      durationMs: Math.round(performance.now() - this.started),
      reason: this.reason
    }
    this.report(stats)
    this.opts.onClose?.(stats)
  }

  destroy (reason = 'shutdown'): void { this.terminate(reason) }
  hold (reason: string): void {
    if (this.reason !== undefined || this.held !== undefined) return
    this.held = reason
    clearTimeout(this.idleTimer)
    clearTimeout(this.closeTimer)
    // reads go on (and are dropped) so that each side's EOF and close are still seen
    this.a.resume()
    this.b.resume()
  }

  bytes (): { bytesAtoB: number, bytesBtoA: number } { return { bytesAtoB: this.ab.bytes, bytesBtoA: this.ba.bytes } }
}

/**
 * Starts moving bytes between `a` and `b`; the pipe owns both sockets from now on. It sets allowHalfOpen on both
 * (effective until their first EOF arrives), as Node ends a socket's write side on EOF otherwise. TLS 1.3 (and
 * Node-to-Node 1.2) half-close works when the side that receives close_notify has allowHalfOpen: tls.createServer
 * ({ allowHalfOpen }) and tls.connect({ allowHalfOpen }) pass it on; a TLSSocket made over an existing socket
 * (new TLSSocket(raw), tls.connect({ socket })) takes it from that socket and ignores its own option. Node reports
 * a FIN without close_notify as a plain end, so a truncated TLS stream is indistinguishable from a closed one here.
 */
export function pipeSockets (a: Duplex, b: Duplex, opts: PipeOptions = {}): Pipe {
  const pipe = new SocketPipe(a, b, opts)
  pipe.start()
  return pipe
}
