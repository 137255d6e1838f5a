// Unit tests of the event-loop delay measurement behind back-pressure: finite in every window, the larger of the
// sampler's lateness and the longest stall the histogram saw.
import { afterEach, describe, expect, it } from 'vitest'
import { performance } from 'node:perf_hooks'
import { EventLoopLag } from '../../src/observe/event-loop-lag.js'

let lag: EventLoopLag | undefined
afterEach(() => { lag?.stop() })

const busy = (ms: number): void => {
  const until = performance.now() + ms
  while (performance.now() < until) { /* hold the event loop */ }
}
const tick = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

describe('EventLoopLag', () => {
  it('reads 0 before the first window closes', () => {
    lag = new EventLoopLag(100)
    lag.start()
    expect(lag.delayMs).toBe(0)
  })

  it('measures a window without any histogram sample by the sampler\'s lateness, not as infinite', () => {
    lag = new EventLoopLag(100)
    lag.start()
    lag.sample(performance.now() + 250)
    expect(lag.delayMs).toBeGreaterThanOrEqual(149)
    expect(lag.delayMs).toBeLessThan(200)
  })

  it('reports a stall the histogram saw between two samples', async () => {
    lag = new EventLoopLag(60_000)
    lag.start()
    await tick(30)
    busy(200)
    await tick(30)
    lag.sample()
    expect(lag.delayMs).toBeGreaterThan(150)
    expect(lag.delayMs).toBeLessThan(1000)
  })

  it('reads no more on an idle loop than the stalls the loop really had', async () => {
    // a loaded machine deschedules the process: the reading may be that long, never longer
    lag = new EventLoopLag(50)
    lag.start()
    let last = performance.now()
    let longestGap = 0
    const probe = setInterval(() => {
      const now = performance.now()
      longestGap = Math.max(longestGap, now - last)
      last = now
    }, 5)
    await tick(300)
    clearInterval(probe)
    expect(Number.isFinite(lag.delayMs)).toBe(true)
    expect(lag.delayMs).toBeLessThanOrEqual(longestGap + 15)
  })
})
