// The management call gate: bounded concurrency, a bounded queue with a deadline, and a pause after Mender's 429;
// every refusal is a 503 carrying the Retry-After the device gets.
import { describe, expect, it } from 'vitest'
import { CallGate, retryAfterSeconds } from '../../src/gateway/mender/call-gate.js'

const deferred = (): { promise: Promise<void>, resolve: () => void } => {
  let resolve = (): void => {}
  const promise = new Promise<void>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

const refusal = async (p: Promise<unknown>): Promise<{ code?: string, retryAfter?: number }> => {
  try {
    await p
  } catch (err) {
    return err as { code?: string, retryAfter?: number }
  }
  throw new Error('the call was not refused')
}

describe('CallGate', () => {
  it('runs at most `concurrency` calls at once and the rest in order as slots free up', async () => {
    const gate = new CallGate({ concurrency: 2, queueSize: 10, queueTimeoutMs: 5000 })
    let running = 0
    let peak = 0
    const order: number[] = []
    const blockers = Array.from({ length: 5 }, deferred)
    const calls = blockers.map(async (b, i) => await gate.run(async () => {
      running++
      peak = Math.max(peak, running)
      order.push(i)
      await b.promise
      running--
    }))
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual([0, 1])
    for (const b of blockers) b.resolve()
    await Promise.all(calls)
    expect([peak, order]).toEqual([2, [0, 1, 2, 3, 4]])
  })

  it('queues a continuation at the head, even when the queue is full', async () => {
    const gate = new CallGate({ concurrency: 1, queueSize: 1, queueTimeoutMs: 4000 })
    const hold = deferred()
    const order: string[] = []
    const first = gate.run(async () => await hold.promise)
    const queued = gate.run(async () => { order.push('queued') })
    expect(await refusal(gate.run(async () => {}))).toMatchObject({ code: 'MTLS_ERR_MGMT_BUSY' })
    const next = gate.run(async () => { order.push('continuation') }, { continuation: true })
    hold.resolve()
    await Promise.all([first, queued, next])
    expect(order).toEqual(['continuation', 'queued'])
  })

  it('never times a continuation out in the queue: it takes the next slot that frees', async () => {
    const gate = new CallGate({ concurrency: 1, queueSize: 1, queueTimeoutMs: 50 })
    const hold = deferred()
    const first = gate.run(async () => await hold.promise)
    const plain = refusal(gate.run(async () => {}))
    const continuation = gate.run(async () => 'ran', { continuation: true })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(await plain).toMatchObject({ code: 'MTLS_ERR_MGMT_BUSY' })
    hold.resolve()
    expect(await continuation).toBe('ran')
    await first
  })

  it('refuses at once with MTLS_ERR_MGMT_BUSY when the queue is full', async () => {
    const gate = new CallGate({ concurrency: 1, queueSize: 1, queueTimeoutMs: 4000 })
    const hold = deferred()
    const first = gate.run(async () => await hold.promise)
    const second = gate.run(async () => {})
    expect(await refusal(gate.run(async () => {}))).toMatchObject({ code: 'MTLS_ERR_MGMT_BUSY', retryAfter: 4 })
    hold.resolve()
    await Promise.all([first, second])
  })

  it('refuses a call that waited longer than the queue timeout', async () => {
    const gate = new CallGate({ concurrency: 1, queueSize: 5, queueTimeoutMs: 50 })
    const hold = deferred()
    const first = gate.run(async () => await hold.promise)
    expect(await refusal(gate.run(async () => {}))).toMatchObject({ code: 'MTLS_ERR_MGMT_BUSY', statusCode: 503 })
    hold.resolve()
    await first
    expect(await gate.run(async () => 'free again')).toBe('free again')
  })

  it('holds every call for the Retry-After of a 429 and sends the waiting ones back at once', async () => {
    let now = 1_000_000
    const gate = new CallGate({ concurrency: 1, queueSize: 5, queueTimeoutMs: 5000, now: () => now })
    const hold = deferred()
    const first = gate.run(async () => await hold.promise)
    const waiting = gate.run(async () => {})
    gate.throttle(30)
    expect(await refusal(waiting)).toMatchObject({ code: 'MTLS_ERR_MGMT_THROTTLED', retryAfter: 30 })
    hold.resolve()
    await first
    now += 10_000
    expect(await refusal(gate.run(async () => {}))).toMatchObject({ code: 'MTLS_ERR_MGMT_THROTTLED', retryAfter: 20 })
    now += 20_000
    expect(await gate.run(async () => 'after the pause')).toBe('after the pause')
  })

  it('releases its slot when a call fails', async () => {
    const gate = new CallGate({ concurrency: 1, queueSize: 0, queueTimeoutMs: 1000 })
    await expect(gate.run(async () => { throw new Error('boom') })).rejects.toThrow('boom')
    expect(await gate.run(async () => 1)).toBe(1)
  })
})

describe('retryAfterSeconds', () => {
  it.each([
    ['7', 7], [' 12 ', 12], ['0', 1], ['99999', 300], [undefined, 5], ['', 5], ['soon', 5], [['3', '9'], 3]
  ] as const)('reads %j as %i seconds', (header, seconds) => {
    expect(retryAfterSeconds(header as string | string[] | undefined)).toBe(seconds)
  })

  it('reads an HTTP date', () => {
    const now = Date.parse('2026-12-02T12:00:00Z')
    expect(retryAfterSeconds('Wed, 02 Dec 2026 12:00:42 GMT', now)).toBe(42)
  })
})
