// Bounds the gateway's concurrent calls to Mender's management API: at most `concurrency` at once, up to
// `queueSize` waiting no longer than `queueTimeoutMs`; beyond that a device gets 503 + Retry-After at once instead of
// a timeout storm. After Mender answers 429 the gate holds every call for Mender's Retry-After.
import { HttpErrors, type CodedError } from '../../errors.js'

export interface CallGateOptions {
  concurrency: number
  queueSize: number
  queueTimeoutMs: number
  now?: () => number
}

interface Waiter { resolve: () => void, reject: (err: CodedError) => void, timer: NodeJS.Timeout | undefined }

/** Longest pause a 429 may impose, whatever its Retry-After says. */
const MAX_PAUSE_S = 300
const DEFAULT_PAUSE_S = 5

/** A 503 the device may retry after `seconds` (sendError sets Retry-After from it). */
export function busy (kind: 'BUSY' | 'THROTTLED', seconds: number): CodedError {
  const err = kind === 'BUSY' ? new HttpErrors.MGMT_BUSY() : new HttpErrors.MGMT_THROTTLED()
  return Object.assign(err, { retryAfter: Math.max(1, Math.ceil(seconds)) })
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date), bounded; a default when absent or unreadable. */
export function retryAfterSeconds (header: string | string[] | undefined, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || value.trim() === '') return DEFAULT_PAUSE_S
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000
  if (!Number.isFinite(seconds)) return DEFAULT_PAUSE_S
  return Math.min(MAX_PAUSE_S, Math.max(1, Math.ceil(seconds)))
}

export class CallGate {
  private active = 0
  private readonly waiting: Waiter[] = []
  private pausedUntil = 0
  private readonly now: () => number

  constructor (private readonly o: CallGateOptions) {
    this.now = o.now ?? Date.now
  }

  /**
   * Runs `call` when a slot is free; throws a 503 (MTLS_ERR_MGMT_BUSY / _THROTTLED) when it cannot be had. A
   * `continuation` (the next call of a sequence a device already started) waits at the head of the queue, is never
   * refused for a full queue and never times out in it, so a started sequence is not cut in half by the devices
   * behind it.
   */
  async run<T> (call: () => Promise<T>, opts: { continuation?: boolean } = {}): Promise<T> {
    await this.acquire(opts.continuation === true)
    try {
      return await call()
    } finally {
      this.release()
    }
  }

  /** Mender said 429: hold every call for `seconds`, and send the waiting ones back to their devices now. */
  throttle (seconds: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + seconds * 1000)
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer)
      w.reject(busy('THROTTLED', seconds))
    }
  }

  private async acquire (continuation: boolean): Promise<void> {
    const paused = this.pausedUntil - this.now()
    if (paused > 0) throw busy('THROTTLED', paused / 1000)
    if (this.active < this.o.concurrency) {
      this.active++
      return
    }
    if (!continuation && this.waiting.length >= this.o.queueSize) throw busy('BUSY', this.o.queueTimeoutMs / 1000)
    await new Promise<void>((resolve, reject) => {
      // a continuation, at the head, takes the next slot that frees (each call in flight is bounded by its own
      // timeout): it does not time out in the queue, so a started sequence is never sent back half done
      const waiter: Waiter = {
        resolve,
        reject,
        timer: continuation
          ? undefined
          : setTimeout(() => {
            this.waiting.splice(this.waiting.indexOf(waiter), 1)
            reject(busy('BUSY', this.o.queueTimeoutMs / 1000))
          }, this.o.queueTimeoutMs)
      }
      if (continuation) this.waiting.unshift(waiter)
      else this.waiting.push(waiter)
    })
  }

  private release (): void {
    const next = this.waiting.shift()
    if (next === undefined) {
      this.active--
      return
    }
    // the slot passes straight to the next waiter
    clearTimeout(next.timer)
    next.resolve()
  }
}
