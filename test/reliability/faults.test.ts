// Backend and management faults against a real gateway process, Mender reached through a switchable TCP proxy
// (up, refusing, resetting) in front of the simulator: every device request gets the documented answer and code —
// never a 500, never a hang —, no preauthorization is cached from a failure, the gateway recovers without a restart,
// and it does not turn one device request into a retry storm. Management faults (login 401 and 5xx, tokens expiring
// mid-run, a token revoked under a preauthorization) end with every device accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Agent } from 'undici'
import type { TestCert, TestPki } from '../support/pki.js'
import { openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, postAuth, send, type Answer } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { Ledger, runPool, type Verdict } from './support/ledger.js'
import { ownFds, settled, startGatewayProcess, type GatewayProcess, type Resources } from './support/resources.js'
import { writeFigures } from './support/figures.js'

const NEXT = '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=t'
let pki: TestPki
let sim: Simulator
let backend: Backend
let proxy: FaultProxy
let gw: GatewayProcess
let baseline: Resources

type Mode = 'up' | 'refuse' | 'reset'

/** A TCP proxy to the simulator that can refuse connections (listener closed), reset them, or pass them on. */
class FaultProxy {
  mode: Mode = 'up'
  accepted = 0
  private server: Server | undefined
  private readonly open = new Set<Socket>()
  port = 0

  constructor (private readonly target: number) {}

  async set (mode: Mode): Promise<void> {
    this.mode = mode
    // connections the gateway keeps alive end too: the fault applies to every request from now on
    if (mode !== 'up') for (const s of this.open) s.destroy()
    if (mode === 'refuse') {
      await this.close()
    } else if (this.server === undefined) {
      await this.listen()
    }
  }

  async listen (): Promise<void> {
    const server = createServer((s) => this.accept(s))
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as { port: number }).port
    this.server = server
  }

  private accept (s: Socket): void {
    this.accepted++
    if (this.mode === 'reset') {
      s.resetAndDestroy()
      return
    }
    const up = connect(this.target, '127.0.0.1')
    this.open.add(s)
    s.on('close', () => { this.open.delete(s); up.destroy() })
    up.on('close', () => s.destroy())
    s.on('error', () => {})
    up.on('error', () => {})
    s.pipe(up).pipe(s)
  }

  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server !== undefined) await new Promise((resolve) => server.close(resolve))
  }
}

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  proxy = new FaultProxy(sim.port)
  await proxy.listen()
  gw = await startGatewayProcess({
    pki,
    backendUrl: `http://127.0.0.1:${proxy.port}`,
    env: { MTLS_UPSTREAM_HEADERS_TIMEOUT: '1000', MTLS_UPSTREAM_CONNECT_TIMEOUT: '1000', MTLS_PREAUTH_CACHE_TTL: '3600' }
  })
  baseline = await gw.sample()
}, 60_000)

afterAll(async () => {
  await gw?.stop()
  writeFigures('faults', figures)
  await proxy?.close()
  await backend?.close()
})

const figures: Record<string, unknown> = {}
let serial = 0

async function device (): Promise<{ cert: TestCert, mac: string, agent: Agent }> {
  const n = serial++
  const mac = `02:00:00:00:fa:${n.toString(16).padStart(2, '0')}`
  const cert = await pki.device(`fault-${n}`, 'ec')
  return { cert, mac, agent: deviceAgent(pki, cert, { timeout: 30_000 }) }
}

/** Request ids whose log line must carry a code (checked at the end: log lines arrive just after answers). */
const expectedCodes: Array<{ id: string, code: string }> = []

/** A Mender-shaped refusal with the status the README documents, and nothing more; its code is in the log. */
const coded = (status: number, code: string) => (a: Answer): Verdict => {
  if (a.status !== status) return `status ${a.status} (wanted ${status}) ${a.text.slice(0, 100)}`
  const body = JSON.parse(a.text) as Record<string, unknown>
  if (Object.keys(body).sort().join() !== 'error,request_id') return `body ${a.text}`
  expectedCodes.push({ id: String(body.request_id), code })
  return true
}

async function missingCodes (): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 500))
  return expectedCodes.filter(({ id, code }) => !gw.withCode(code).some((l) => l.reqId === id))
    .map(({ id, code }) => `${code} for ${id}`)
}

async function auth (ledger: Ledger, d: Awaited<ReturnType<typeof device>>, id: string, judge: (a: Answer) => Verdict):
Promise<Answer | undefined> {
  const body = authRequest(d.cert.keyPem, { mac: d.mac })
  return await ledger.run(id, async () => await postAuth(d.agent, gw.url, body), judge)
}

const preauths = (mac: string): number[] => sim.requests
  .filter((r) => r.group === 'preauth' && r.bodyBytes.toString().includes(mac))
  .map((r) => r.status ?? -1)

/** Connections and the gateway's own fds back where they started; the figures keep before and after. */
async function expectBaseline (phase: string): Promise<void> {
  const after = await settled(gw, baseline)
  figures[`${phase}Resources`] = { before: baseline, after }
  expect(after.openConnections).toBe(baseline.openConnections)
  expect(ownFds(after)).toBeLessThanOrEqual(ownFds(baseline) + 2)
}

async function settle (): Promise<void> {
  // answers are logged right after they are sent
  await new Promise((resolve) => setTimeout(resolve, 200))
}

describe('backend faults', () => {
  it('answers 502/503/504 with codes while Mender is down, slow, resetting or failing, and recovers', async () => {
    const ledger = new Ledger('backend')
    const known = await Promise.all(Array.from({ length: 10 }, device))
    await runPool(known, 10, async (d, i) => {
      await auth(ledger, d, `known-${i}`, (a) => a.status === 200 || `auth ${a.status}`)
    })
    const tokens = new Map<number, string>()
    const poll = async (phase: string, judge: (a: Answer) => Verdict): Promise<void> => {
      await runPool(known, 10, async (d, i) => {
        await ledger.run(`${phase}-${i}`, async () => await send(d.agent, gw.url + NEXT, {
          headers: { authorization: `Bearer ${tokens.get(i) ?? ''}` }
        }), judge)
      })
    }
    for (const [i, d] of known.entries()) {
      const a = await postAuth(d.agent, gw.url, authRequest(d.cert.keyPem, { mac: d.mac }))
      tokens.set(i, a.text)
    }
    await poll('up', (a) => a.status === 204 || `next ${a.status}`)

    // down: connections refused
    await proxy.set('refuse')
    const newcomers = await Promise.all(Array.from({ length: 5 }, device))
    await settle()
    await poll('down', coded(502, 'MTLS_ERR_UPSTREAM_CONNECT'))
    await runPool(newcomers, 5, async (d, i) => {
      await auth(ledger, d, `down-auth-${i}`, coded(503, 'MTLS_ERR_MGMT_UNAVAILABLE'))
    })
    await proxy.set('up')
    // nothing was cached from the failure: each newcomer is preauthorized now, once, and accepted
    await runPool(newcomers, 5, async (d, i) => {
      await auth(ledger, d, `recovered-auth-${i}`, (a) => a.status === 200 || `auth ${a.status}`)
    })
    for (const d of newcomers) expect(preauths(d.mac)).toEqual([201])
    await poll('recovered', (a) => a.status === 204 || `next ${a.status}`)

    // resets: every connection accepted and reset at once
    await proxy.set('reset')
    const acceptedBefore = proxy.accepted
    await settle()
    await poll('reset', coded(502, 'MTLS_ERR_UPSTREAM_CONNECT'))
    // no retry storm: a device request is at most two upstream attempts (GET, nothing sent), plus the pool's own
    const attempts = proxy.accepted - acceptedBefore
    expect(attempts).toBeLessThanOrEqual(2 * known.length + 4)
    figures.resetAttempts = { requests: known.length, upstreamConnections: attempts }
    await proxy.set('up')

    // slow: Mender answers after the headers timeout
    sim.faults.latency('device', 2500)
    await poll('slow', coded(504, 'MTLS_ERR_UPSTREAM_TIMEOUT'))
    sim.faults.clear()

    // Mender's own 5xx reaches the device as Mender sent it (status and body), never a 500 of ours
    sim.faults.failNext('device', 503, known.length)
    await poll('mender-503', (a) => (a.status === 503 && a.text.includes('request_id')) || `next ${a.status}`)

    // flapping: down and up every 150 ms while devices poll; each answer is a 204 or a coded 502, none hangs
    const flapping = (async () => {
      for (let i = 0; i < 12; i++) {
        await proxy.set(i % 2 === 0 ? 'refuse' : 'up')
        await new Promise((resolve) => setTimeout(resolve, 150))
      }
      await proxy.set('up')
    })()
    for (let round = 0; round < 4; round++) {
      await poll(`flap-${round}`, (a) => a.status === 204 || (a.status === 502 && a.text.includes('backend unavailable')) || `next ${a.status}`)
    }
    await flapping
    await poll('after-flapping', (a) => a.status === 204 || `next ${a.status}`)

    const summary = ledger.summary()
    figures.backend = summary
    expect(ledger.problems).toEqual([])
    expect(ledger.complete()).toBe(true)
    expect(await missingCodes()).toEqual([])
    expect(gw.lines.filter((l) => Number(l.level) >= 50 || l.code === 'MTLS_ERR_INTERNAL')).toEqual([])
    expect(gw.alive()).toBe(true)
    for (const d of [...known, ...newcomers]) await d.agent.close()
    await expectBaseline('backend')
  }, 180_000)
})

describe('management faults', () => {
  it('accepts every device through login 401 and 5xx, expiring tokens and a token revoked under a preauthorization', async () => {
    const ledger = new Ledger('management')
    // a login answering 401, then one answering 503: the device waiting on it gets a coded answer, then gets in
    const d401 = await device()
    sim.faults.failNext('preauth', 401, 1)
    sim.faults.failNext('login', 401, 1)
    await auth(ledger, d401, 'login-401', coded(502, 'MTLS_ERR_MGMT_LOGIN_FAILED'))
    await auth(ledger, d401, 'login-401-retry', (a) => a.status === 200 || `auth ${a.status}`)
    const d5xx = await device()
    sim.faults.failNext('preauth', 401, 1)
    sim.faults.failNext('login', 503, 1)
    await auth(ledger, d5xx, 'login-503', coded(503, 'MTLS_ERR_MGMT_UNAVAILABLE'))
    await auth(ledger, d5xx, 'login-503-retry', (a) => a.status === 200 || `auth ${a.status}`)
    expect(preauths(d401.mac).filter((s) => s === 201)).toEqual([201])
    expect(preauths(d5xx.mac).filter((s) => s === 201)).toEqual([201])

    // a token revoked under a preauthorization (401): the gateway logs in again and the device is accepted at once
    const revoked = await device()
    const logins = sim.counts.login
    sim.faults.failNext('preauth', 401, 1)
    await auth(ledger, revoked, 'revoked', (a) => a.status === 200 || `auth ${a.status}`)
    expect(sim.counts.login).toBe(logins + 1)

    // management tokens that expire every 2 s, while devices keep arriving for 6 s
    sim.faults.tokenLifetime({ user: 2 })
    const until = Date.now() + 6000
    let n = 0
    while (Date.now() < until) {
      const batch = await Promise.all(Array.from({ length: 3 }, device))
      await runPool(batch, 3, async (d) => {
        await auth(ledger, d, `expiring-${n++}`, (a) => a.status === 200 || `auth ${a.status} ${a.text.slice(0, 80)}`)
        await d.agent.close()
      })
      await new Promise((resolve) => setTimeout(resolve, 400))
    }
    sim.faults.clear()
    figures.management = { ...ledger.summary(), logins: sim.counts.login }
    expect(ledger.problems).toEqual([])
    expect(ledger.complete()).toBe(true)
    expect(await missingCodes()).toEqual([])
    expect(gw.lines.filter((l) => l.code === 'MTLS_ERR_INTERNAL' || Number(l.level) >= 60)).toEqual([])
    for (const d of [d401, d5xx, revoked]) await d.agent.close()
    await expectBaseline('management')
  }, 120_000)
})
