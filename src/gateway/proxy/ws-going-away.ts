// Ends a tunnelled websocket politely on shutdown: once both directions stand between two frames, the pipe is held,
// the device gets a close frame 1001 "going away" and Mender a masked one, and both sockets are ended; a peer that
// does not close within the grace period, or a stream that never reaches a frame boundary in time, is destroyed.
import type { Duplex } from 'node:stream'
import type { Pipe } from '../../net/pipe.js'
import { FrameTracker, GOING_AWAY, closeFrame } from './ws-frames.js'

/** How long a stream may take to reach a frame boundary before it is cut. */
export const BOUNDARY_WAIT_MS = 500
/** How long the peers get to answer the close frames before both sockets are destroyed. */
export const CLOSE_GRACE_MS = 1000

export class WebsocketEnd {
  private readonly down = new FrameTracker()
  private readonly up = new FrameTracker()
  private leaving = false
  private done = false
  private timer: NodeJS.Timeout | undefined

  /** `downHead`: bytes already written to the device; `upHead`: bytes already written to Mender. */
  constructor (
    private readonly device: Duplex, private readonly upstream: Duplex, private readonly pipe: Pipe,
    downHead: Buffer, upHead: Buffer
  ) {
    this.down.push(downHead)
    this.up.push(upHead)
    // registered after the pipe's own listeners, so a chunk is counted once it has been forwarded
    upstream.on('data', (chunk: Buffer) => { this.down.push(chunk); this.check() })
    device.on('data', (chunk: Buffer) => { this.up.push(chunk); this.check() })
  }

  /** Settles once the pipe has closed both sockets. */
  get closed (): Promise<unknown> { return this.pipe.closed }

  /** Starts the polite end; the pipe reports 'going_away' (or 'shutdown' when it had to be cut). */
  goAway (): void {
    if (this.leaving) return
    this.leaving = true
    this.timer = setTimeout(() => this.pipe.destroy('shutdown'), BOUNDARY_WAIT_MS)
    this.check()
  }

  private check (): void {
    if (!this.leaving || this.done || !this.down.atBoundary || !this.up.atBoundary) return
    this.done = true
    clearTimeout(this.timer)
    this.pipe.hold('going_away')
    if (this.device.writable) this.device.end(closeFrame(GOING_AWAY, false))
    if (this.upstream.writable) this.upstream.end(closeFrame(GOING_AWAY, true))
    this.timer = setTimeout(() => this.pipe.destroy('going_away'), CLOSE_GRACE_MS)
    this.timer.unref()
  }
}
