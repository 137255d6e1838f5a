// Event-loop delay for back-pressure: the longest stall measured in the last sampling window, taken from perf_hooks'
// delay histogram and from the sampling timer's own lateness. A window without histogram samples (one iteration
// longer than the window) is measured by the timer's lateness: "no sample" never reads as an infinite delay.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

type DelayHistogram = ReturnType<typeof monitorEventLoopDelay>

/** Tick of the delay histogram (ms): its samples are the spacing of these ticks. */
const RESOLUTION_MS = 10

export class EventLoopLag {
  private readonly histogram: DelayHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  private timer: NodeJS.Timeout | undefined
  private lastTick = 0
  private delay = 0

  constructor (private readonly intervalMs: number) {}

  /** The longest event-loop stall (ms) measured in the last completed window; 0 before the first one. */
  get delayMs (): number { return this.delay }

  start (): void {
    if (this.timer !== undefined) return
    this.histogram.enable()
    this.lastTick = performance.now()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.histogram.disable()
  }

  /** Closes the current window: its value is the larger of the sampler's lateness and the longest histogram gap. */
  sample (now = performance.now()): void {
    const late = Math.max(0, now - this.lastTick - this.intervalMs)
    this.lastTick = now
    const h = this.histogram
    // a histogram sample is the time between two ticks: minus the tick itself, how long the loop was held up
    const stall = h.count > 0 ? Math.max(0, h.max / 1e6 - RESOLUTION_MS) : 0
    h.reset()
    this.delay = Math.max(late, stall)
  }
}
