// Back-pressure against a real mTLS gateway (max_event_loop_delay 1000 ms): event-loop iterations of 80–120 ms,
// longer than the sampling interval but far below the threshold, never shed a request; a 1.5 s stall does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Agent } from 'undici'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { deviceAgent, send, type Answer } from '../support/device.js'

let backend: Backend
let gw: GatewayHandle
let agent: Agent

beforeAll(async () => {
  backend = await openBackend()
  gw = await startGateway({ pki: backend.pki, backendUrl: backend.sim.url, overrides: { max_event_loop_delay: 1000 } })
  agent = deviceAgent(backend.pki, backend.pki.devices.ec)
  await send(agent, gw.url + '/status') // warm connection: the requests below need no handshake
})

afterAll(async () => {
  await agent?.close()
  await gw?.close()
  await backend?.close()
})

const busy = (ms: number): void => {
  const until = performance.now() + ms
  while (performance.now() < until) { /* one long event-loop iteration in the gateway's own process */ }
}

/**
 * Sends requests one after another while the loop is blocked for `blockMs` every `everyMs`, for `msEach` per period
 * (the periods are ones whose phase against a 100 ms sampler used to leave windows without a sample).
 */
async function underStalls (blockMs: number, periods: number[], msEach: number): Promise<Answer[]> {
  const answers: Answer[] = []
  for (const everyMs of periods) {
    const stalls = setInterval(() => busy(blockMs), everyMs)
    try {
      const end = Date.now() + msEach
      while (Date.now() < end) answers.push(await send(agent, gw.url + '/status'))
    } finally {
      clearInterval(stalls)
    }
  }
  return answers
}

const statuses = (answers: Answer[]): Record<number, number> => {
  const out: Record<number, number> = {}
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1
  return out
}

describe('back-pressure (max_event_loop_delay 1000 ms)', () => {
  it('sheds nothing while event-loop iterations take 80 ms', async () => {
    const answers = await underStalls(80, [85, 90], 2000)
    expect(answers.length).toBeGreaterThan(10)
    expect(statuses(answers)).toEqual({ 200: answers.length })
  })

  it('sheds nothing while event-loop iterations take 120 ms', async () => {
    const answers = await underStalls(120, [100, 130], 2000)
    expect(answers.length).toBeGreaterThan(10)
    expect(statuses(answers)).toEqual({ 200: answers.length })
  })

  it('sheds with 503 MTLS_ERR_OVERLOADED and Retry-After after a 1.5 s stall, and recovers', async () => {
    const answers = await underStalls(1500, [1700], 5000)
    const shed = answers.filter((a) => a.status === 503)
    expect(shed.length).toBeGreaterThan(0)
    expect(shed[0]?.headers['retry-after']).toBe('10')
    expect(JSON.parse(shed[0]?.text ?? '{}')).toMatchObject({ error: 'service unavailable' })
    expect(gw.withCode('MTLS_ERR_OVERLOADED').length).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await send(agent, gw.url + '/status')).status).toBe(200)
  })
})
