// Thundering herd: 2,000 devices (1,000 Mender already knows, 1,000 new) send their auth request at once to a
// freshly restarted gateway (a real process). The gateway bounds its concurrent management calls (mgmt_concurrency)
// and answers what its queue cannot hold with 503 + Retry-After; devices that honour it get in. Every device ends
// accepted, each is preauthorized exactly once, and when Mender answers 429 the gateway pauses for its Retry-After.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Client } from 'undici'
import { issueDeviceCert, type Issued } from '../../src/tools/pki/index.js'
import type { TestPki } from '../support/pki.js'
import { openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { ownFds, settled, startGatewayProcess, type GatewayProcess, type Resources } from './support/resources.js'
import { writeFigures } from './support/figures.js'

const DEVICES = 2000
const KNOWN = 1000
const CONCURRENCY = 8
/** How long a device keeps retrying after 503s (each after its Retry-After). */
const PATIENCE_MS = 240_000
let pki: TestPki
let sim: Simulator
let backend: Backend
let devices: Issued[]

beforeAll(async () => {
  // the herd's preauthorizations are read back from the request log: keep all of them
  ;({ pki, sim } = backend = await openBackend({ requestLog: 100_000 }))
  devices = []
  for (let i = 0; i < DEVICES; i += 100) {
    devices.push(...await Promise.all(Array.from({ length: Math.min(100, DEVICES - i) }, async (_, j) =>
      await issueDeviceCert(pki.root, { cn: `herd-${i + j}`, keyType: 'ec' }))))
  }
}, 300_000)

afterAll(async () => {
  await backend?.close()
})

async function start (): Promise<GatewayProcess> {
  return await startGatewayProcess({
    pki,
    backendUrl: sim.url,
    env: {
      MTLS_MGMT_CONCURRENCY: String(CONCURRENCY),
      MTLS_MGMT_QUEUE_SIZE: '100',
      MTLS_MGMT_QUEUE_TIMEOUT: '2000',
      // one source address for the whole herd, whose handshakes queue behind each other on a small shared host
      MTLS_MAX_CONNECTIONS_PER_IP: '0',
      MTLS_HANDSHAKE_TIMEOUT: '60000'
    }
  })
}

const mac = (i: number): string => `02:00:${Math.floor(i / 65536).toString(16).padStart(2, '0')}:` +
  `${(Math.floor(i / 256) % 256).toString(16).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}:00`

interface Outcome {
  status: number, attempts: number, busy: number, retryAfterSeen: boolean, connectionErrors: number, error?: string
}

/** One device: its auth request, retried after each 503 for its Retry-After (with jitter), for PATIENCE_MS. */
async function authenticate (port: number, i: number, suffix = ''): Promise<Outcome> {
  const d = devices[i] as Issued
  const client = new Client(`https://localhost:${port}`, {
    // 2,000 handshakes at once on a shared 2-core machine (client and gateway): a device's patience, not undici's 10 s
    connect: { ca: pki.root.certPem, cert: d.chainPem, key: d.keyPem, servername: 'localhost', timeout: 120_000 },
    headersTimeout: 60_000,
    bodyTimeout: 60_000
  })
  const req = authRequest(d.keyPem, { mac: mac(i) + suffix })
  const outcome: Outcome = { status: 0, attempts: 0, busy: 0, retryAfterSeen: true, connectionErrors: 0 }
  try {
    const until = Date.now() + PATIENCE_MS
    while (Date.now() < until) {
      outcome.attempts++
      const res = await client.request({ path: AUTH_URL_PATH, method: 'POST', body: req.body, headers: req.headers })
        .catch((e: { code?: string, message?: string }) => { outcome.error = e.code ?? e.message; return undefined })
      if (res !== undefined) outcome.error = undefined
      if (res === undefined) {
        // a connection the gateway could not take in time (handshake deadline on an overloaded host): a device
        // tries again later, as the real client does
        outcome.connectionErrors++
        await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 2000))
        continue
      }
      await res.body.text()
      outcome.status = res.statusCode
      if (res.statusCode !== 503) break
      outcome.busy++
      const after = Number(res.headers['retry-after'])
      if (!(after >= 1)) outcome.retryAfterSeen = false
      await new Promise((resolve) => setTimeout(resolve, (after >= 1 ? after : 1) * 1000 * (0.5 + Math.random())))
    }
  } finally {
    await client.close()
  }
  return outcome
}

/** Preauthorization requests Mender received, per MAC, since `from` (the index in sim.requests). */
function preauthsByMac (from: number): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const r of sim.requests.slice(from)) {
    if (r.group !== 'preauth') continue
    const body = JSON.parse(r.bodyBytes.toString()) as { identity_data?: { mac?: string } }
    const key = String(body.identity_data?.mac)
    out.set(key, [...(out.get(key) ?? []), r.status ?? -1])
  }
  return out
}

it('accepts every device of a 2,000-device herd after a restart, preauthorizing each exactly once', async () => {
  sim.faults.latency('preauth', 30)
  // the known half: accepted through a first gateway, which is then restarted
  let p = await start()
  for (let i = 0; i < KNOWN; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, async (_, j) => await authenticate(p.port, i + j)))
    expect(batch.filter((o) => o.status !== 200)).toEqual([])
  }
  expect(await p.stop()).toBe(0)
  const from = sim.requests.length
  sim.peaks.preauth = 0
  p = await start()
  try {
    const before = await p.sample()
    let peak: Resources = before
    const sampler = setInterval(() => {
      p.sample().then((r) => { if (r.rssKb > peak.rssKb) peak = r }, () => {})
    }, 500)
    const started = Date.now()
    const outcomes = await Promise.all(Array.from({ length: DEVICES }, async (_, i) => await authenticate(p.port, i)))
    clearInterval(sampler)
    const seconds = (Date.now() - started) / 1000
    const statuses = new Map<number, number>()
    for (const o of outcomes) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
    expect({ statuses: Object.fromEntries(statuses), errors: outcomes.filter((o) => o.error !== undefined).length })
      .toEqual({ statuses: { 200: DEVICES }, errors: 0 })
    const busy = outcomes.reduce((n, o) => n + o.busy, 0)
    expect(busy).toBeGreaterThan(0)
    expect(outcomes.every((o) => o.retryAfterSeen)).toBe(true)
    expect(sim.peaks.preauth).toBeLessThanOrEqual(CONCURRENCY)
    const preauths = preauthsByMac(from)
    expect(preauths.size).toBe(DEVICES)
    for (let i = 0; i < DEVICES; i++) {
      // a new device: created once; a known one: 409 (more than one if a busy gateway sent it back to retry), then
      // exactly one force upsert (preauth_force, the default)
      const seen = preauths.get(mac(i)) ?? []
      if (i >= KNOWN) expect(seen, mac(i)).toEqual([201])
      else {
        expect([seen.at(-1), seen.slice(0, -1).every((st) => st === 409), seen.length > 1], mac(i))
          .toEqual([201, true, true])
      }
    }
    expect(p.lines.filter((l) => Number(l.level) >= 50)).toEqual([])
    const after = await settled(p, before)
    expect(after.openConnections).toBe(before.openConnections)
    expect(ownFds(after)).toBeLessThanOrEqual(ownFds(before) + 2)
    writeFigures('herd', {
      devices: DEVICES,
      seconds,
      requests: outcomes.reduce((n, o) => n + o.attempts, 0),
      answered200: statuses.get(200) ?? 0,
      busy503: busy,
      errors: outcomes.filter((o) => o.error !== undefined).length,
      connectionErrors: outcomes.reduce((n, o) => n + o.connectionErrors, 0),
      maxAttempts: Math.max(...outcomes.map((o) => o.attempts)),
      peakManagementCalls: sim.peaks.preauth,
      resources: { before, peak, after }
    })
  } finally {
    sim.faults.clear()
    await p.stop()
  }
}, 600_000)

it('holds every preauthorization for Mender\'s Retry-After after a 429, then accepts every device', async () => {
  const p = await start()
  try {
    const port = p.port
    await p.waitFor((l) => l.event === 'mgmt_login')
    sim.reset()
    sim.faults.failNext('preauth', 429, CONCURRENCY)
    const herd = Array.from({ length: 50 }, async (_, i) => await authenticate(port, DEVICES - 1 - i, 'rotated'))
    // the first CONCURRENCY calls all get 429 (Retry-After: 3): the gate pauses at the first, so nothing but those
    // calls reaches Mender for the next 3 s, however many devices are waiting
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(sim.counts.preauth).toBeLessThanOrEqual(CONCURRENCY)
    const outcomes = await Promise.all(herd)
    expect(outcomes.map((o) => o.status)).toEqual(Array(50).fill(200))
    expect(outcomes.some((o) => o.busy > 0)).toBe(true)
    expect(p.lines.some((l) => l.code === 'MTLS_ERR_MGMT_THROTTLED')).toBe(true)
  } finally {
    sim.faults.clear()
    await p.stop()
  }
}, 120_000)
