// Load: 1,000 devices, each with its own certificate and its own mTLS connection, held open at once against a real
// gateway process for RELIABILITY_LOAD_SECONDS (60 s unless told), with Mender simulated. Each device mixes auth
// requests, inventory PATCHes and PUTs and deployment polls; 20 of them also keep a deviceconnect websocket open and
// exchange echoed messages. Every request and message is in the ledger and gets exactly its own answer (an auth
// answer is the token of that device; inventory lands on the device that wrote it). Memory after a full GC in the
// gateway (through its inspector) and fds stay flat while the fleet runs, and return to the baseline once it leaves;
// a last wave of 1,000 short connections leaves the live heap where it was (no leak per connection).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Client } from 'undici'
import WebSocket from 'ws'
import { issueDeviceCert, type Issued } from '../../src/tools/pki/index.js'
import { openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest } from '../support/device.js'
import { writeFigures } from './support/figures.js'
import { Ledger } from './support/ledger.js'
import { gcOf, INSPECT_ENV, type HeapAfterGc } from './support/inspector.js'
import {
  ownFds, settled, startGatewayProcess, type GatewayProcess, type Resources
} from './support/resources.js'

const DEVICES = 1000
const WEBSOCKETS = 20
const SECONDS = Number(process.env.RELIABILITY_LOAD_SECONDS ?? 60)
/** Devices start over this long (their first auth requests spread, as a fleet coming online does). */
const RAMP_MS = 20_000
/** Longest the fleet may take to come online (connected and authenticated) on a loaded machine. */
const ONLINE_MS = 120_000
/** Pause between two requests of one device: 2–4 s (about 330 requests a second for the fleet). */
const pause = (): number => 2000 + Math.random() * 2000
/** Live heap (after a full GC) may grow this much while the same fleet keeps running, and after it left. */
const HEAP_FLAT_KB = 32 * 1024
const HEAP_BACK_KB = 16 * 1024
const RSS_BOUND_KB = 256 * 1024
/** 1,000 more connections, come and gone, may leave at most this much more live heap (4 kB a connection). */
const CHURN_LEAK_KB = 4 * 1024
/** fds (besides the upstream pool) may differ this much between two samples of the same fleet. */
const FD_FLAT = 20

const NEXT = '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=t'
const INVENTORY = '/api/devices/v1/inventory/device/attributes'
const CONNECT = '/api/devices/v1/deviceconnect/connect'

let backend: Backend
let certs: Issued[]

beforeAll(async () => {
  backend = await openBackend()
  certs = []
  for (let i = 0; i < DEVICES; i += 100) {
    certs.push(...await Promise.all(Array.from({ length: Math.min(100, DEVICES - i) }, async (_, j) =>
      await issueDeviceCert(backend.pki.root, { cn: `load-${i + j}`, keyType: 'ec' }))))
  }
}, 300_000)

afterAll(async () => { await backend?.close() })

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const macOf = (i: number): string => `02:00:00:10:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`

/** The `sub` claim of a JWT (the device id Mender issued it for). */
function subOf (jwt: string): string | undefined {
  try {
    return (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as { sub?: string }).sub
  } catch {
    return undefined
  }
}

interface Reply { status: number, text: string }

async function call (client: Client, method: 'GET' | 'POST' | 'PUT' | 'PATCH', path: string,
  headers: Record<string, string>, body?: Buffer | string): Promise<Reply> {
  const res = await client.request({ method, path, headers, body })
  return { status: res.statusCode, text: await res.body.text() }
}

class Device {
  readonly mac: string
  readonly client: Client
  jwt = ''
  /** The sequence number of the last inventory write Mender acknowledged. */
  lastWrite: number | undefined

  constructor (readonly index: number, readonly cert: Issued, url: string) {
    this.mac = macOf(index)
    this.client = new Client(url, {
      connect: { ca: backend.pki.root.certPem, cert: cert.chainPem, key: cert.keyPem, servername: 'localhost', timeout: 60_000 },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      // one connection for the whole run: the gateway keeps idle connections 65 s
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 30_000
    })
  }

  /** An auth request; its answer must be a token Mender issued for this very device. */
  async auth (ledger: Ledger, id: string): Promise<boolean> {
    const req = authRequest(this.cert.keyPem, { mac: this.mac })
    const a = await ledger.run(id, async () => await call(this.client, 'POST', AUTH_URL_PATH, req.headers, req.body), (r) => {
      if (r.status !== 200) return `auth ${r.status} ${r.text.slice(0, 120)}`
      const own = backend.sim.state.deviceByIdentity({ mac: this.mac })?.id
      return (own !== undefined && subOf(r.text) === own) || `auth answered a token for ${String(subOf(r.text))}, not ${String(own)}`
    })
    if (a?.status !== 200) return false
    this.jwt = a.text
    return true
  }

  async inventory (ledger: Ledger, id: string, seq: number, method: 'PUT' | 'PATCH'): Promise<void> {
    const body = JSON.stringify([{ name: 'seq', value: seq }, { name: 'mac', value: this.mac }])
    const headers = { authorization: `Bearer ${this.jwt}`, 'content-type': 'application/json' }
    const a = await ledger.run(id, async () => await call(this.client, method, INVENTORY, headers, body),
      (r) => r.status === 200 || `inventory ${method} ${r.status} ${r.text.slice(0, 120)}`)
    if (a?.status === 200) this.lastWrite = seq
  }

  async poll (ledger: Ledger, id: string): Promise<void> {
    await ledger.run(id, async () => await call(this.client, 'GET', NEXT, { authorization: `Bearer ${this.jwt}` }),
      (r) => r.status === 204 || `next ${r.status} ${r.text.slice(0, 120)}`)
  }

  /** Until `end.at`: a mix of one auth request, four inventory writes (one PUT) and five polls in every ten. */
  async run (online: Ledger, ledger: Ledger, end: { at: number }): Promise<void> {
    if (!await this.auth(online, `${this.index}/auth`)) return
    for (let k = 0; k < 10_000 && Date.now() < end.at; k++) {
      await sleep(Math.min(pause(), Math.max(0, end.at - Date.now())))
      // no last request from every device at the same instant when the run ends
      if (Date.now() >= end.at) break
      const id = `${this.index}/${k}`
      const step = k % 10
      if (step === 9) await this.auth(ledger, `${id}/auth`)
      else if (step === 8) await this.inventory(ledger, `${id}/put`, k, 'PUT')
      else if (step % 3 === 1) await this.inventory(ledger, `${id}/patch`, k, 'PATCH')
      else await this.poll(ledger, `${id}/next`)
    }
  }
}

/** A deviceconnect websocket of `d`: a message every second until `until`, each echoed back, then close 1000. */
async function websocket (d: Device, url: string, ledger: Ledger, until: number): Promise<number | undefined> {
  const open = ledger.begin(`${d.index}/ws/open`)
  const ws = new WebSocket(url.replace('https', 'wss') + CONNECT, {
    ca: backend.pki.root.certPem, cert: d.cert.chainPem, key: d.cert.keyPem, headers: { authorization: `Bearer ${d.jwt}` }
  })
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)))
  ws.on('error', () => {})
  const expected: Array<{ text: string, pending: ReturnType<Ledger['begin']> }> = []
  ws.on('message', (data: Buffer) => {
    const head = expected.shift()
    if (head === undefined) return
    head.pending.answer(data.toString() === head.text || `echo ${data.toString()} for ${head.text}`)
  })
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))),
    closed.then(() => false)
  ])
  if (!opened) { open.fail(new Error('websocket refused')); return undefined }
  open.answer()
  for (let n = 0; n < 1000 && Date.now() < until && ws.readyState === WebSocket.OPEN; n++) {
    const text = `${d.mac}#${n}`
    expected.push({ text, pending: ledger.begin(`${d.index}/ws/${n}`) })
    ws.send(text)
    await sleep(1000)
  }
  await sleep(500)
  for (const left of expected.splice(0)) left.pending.fail(new Error('no echo'))
  ws.close(1000)
  return await closed
}

interface Peaks { peak: Resources, samples: number }

/** Samples every second while `work` runs: the peak RSS, fds and open connections. */
async function sampled (gw: GatewayProcess, work: () => Promise<void>): Promise<Peaks> {
  let peak = await gw.sample()
  let samples = 0
  const state = { running: true }
  const sampler = (async () => {
    while (state.running && gw.alive()) {
      const s = await gw.sample().catch(() => undefined)
      if (s !== undefined) {
        samples++
        peak = {
          ...s,
          rssKb: Math.max(s.rssKb, peak.rssKb),
          fds: Math.max(s.fds, peak.fds),
          upstreamFds: Math.max(s.upstreamFds, peak.upstreamFds),
          openConnections: Math.max(s.openConnections, peak.openConnections),
          openWebsockets: Math.max(s.openWebsockets, peak.openWebsockets)
        }
      }
      await sleep(1000)
    }
  })()
  try {
    await work()
  } finally {
    state.running = false
    await sampler
  }
  return { peak, samples }
}

it(`serves ${DEVICES} concurrent devices for ${SECONDS} s with every request answered, memory and fds flat`, async () => {
  const gw = await startGatewayProcess({
    pki: backend.pki,
    backendUrl: backend.sim.url,
    env: {
      ...INSPECT_ENV,
      // the whole fleet comes from 127.0.0.1; devices coming online wait for their preauthorization (shedding a
      // herd with 503 + Retry-After is the herd scenario's)
      MTLS_MAX_CONNECTIONS_PER_IP: '0',
      // a shared, loaded machine can stall handshakes for seconds; slow handshakes are the abuse scenario's
      MTLS_HANDSHAKE_TIMEOUT: '60000',
      MTLS_MGMT_QUEUE_SIZE: String(2 * DEVICES),
      MTLS_MGMT_QUEUE_TIMEOUT: String(ONLINE_MS)
    }
  })
  const devices = certs.map((c, i) => new Device(i, c, gw.url))
  // coming online (connect, first auth request: preauthorization) and the run itself, counted apart
  const online = new Ledger('online')
  const ledger = new Ledger('load')
  try {
    const before = await gw.sample()
    const heapBefore = await gcOf(gw)
    const started = Date.now()
    // the run lasts SECONDS once the whole fleet is online (until then, at most ONLINE_MS)
    const end = { at: started + ONLINE_MS }
    let onlineMs = NaN
    const marks: Array<{ at: string, heap: HeapAfterGc, resources: Resources }> = []
    const mark = async (at: string): Promise<void> => {
      marks.push({ at, heap: await gcOf(gw), resources: await gw.sample() })
    }
    let closes: Array<number | undefined> = []
    const { peak, samples } = await sampled(gw, async () => {
      const fleet = devices.map(async (d, i) => {
        await sleep((i * RAMP_MS) / DEVICES)
        await d.run(online, ledger, end)
      })
      while (Date.now() < started + ONLINE_MS && devices.some((d) => d.jwt === '')) await sleep(250)
      onlineMs = Date.now() - started
      const until = end.at = Date.now() + SECONDS * 1000
      const sockets = devices.slice(0, WEBSOCKETS).map(async (d) => await websocket(d, gw.url, ledger, until - 1000))
      // the whole fleet online: live memory and fds a third of the way in and at the end must match
      await sleep(Math.max(5000, (SECONDS * 1000) / 3))
      await mark('running')
      await sleep(Math.max(0, until - 3000 - Date.now()))
      await mark('end')
      closes = await Promise.all(sockets)
      await Promise.all(fleet)
    })
    const seconds = (Date.now() - started) / 1000
    const beforeClose = await gw.sample()
    await Promise.all(devices.map(async (d) => await d.client.close()))
    const after = await settled(gw, before, 2, 60_000)
    const heapAfter = await gcOf(gw)
    // a leak per connection would show here: every device once more on a new connection (one poll), then gone
    const churn = new Ledger('churn')
    const again = certs.map((c, i) => Object.assign(new Device(i, c, gw.url), { jwt: devices[i]?.jwt ?? '' }))
    await Promise.all(again.map(async (d, i) => {
      await sleep((i * RAMP_MS) / DEVICES / 2)
      await d.poll(churn, `${d.index}/churn`)
      await d.client.close()
    }))
    const afterChurn = await settled(gw, before, 2, 60_000)
    const heapChurn = await gcOf(gw)
    const summary = ledger.summary()
    const misattributed = devices.flatMap((d) => {
      const view = backend.sim.state.deviceByIdentity({ mac: d.mac })
      const attrs = new Map((view?.attributes ?? []).map((a) => [a.name, a.value]))
      return d.lastWrite !== undefined && (attrs.get('seq') !== d.lastWrite || attrs.get('mac') !== d.mac)
        ? [`${d.mac}: seq ${String(attrs.get('seq'))} mac ${String(attrs.get('mac'))}, wrote ${d.lastWrite}`]
        : []
    })
    const [running, last] = marks
    writeFigures('load', {
      devices: DEVICES,
      websockets: WEBSOCKETS,
      seconds,
      onlineSeconds: onlineMs / 1000,
      online: online.summary(),
      requests: { ...summary, perSecond: Math.round(summary.sent / SECONDS) },
      misattributed: misattributed.length,
      resources: { before, peak, beforeClose, after, afterChurn, samples },
      churn: churn.summary(),
      heapAfterGc: { before: heapBefore, running: running?.heap, end: last?.heap, after: heapAfter, churn: heapChurn },
      fds: {
        before: before.fds, running: running?.resources.fds, end: last?.resources.fds, peak: peak.fds, after: after.fds
      },
      gatewayErrors: gw.lines.filter((l) => (l.level as number) >= 50).length
    })
    expect(online.problems).toEqual([])
    expect(online.complete()).toBe(true)
    expect(online.summary().sent).toBe(DEVICES)
    expect(ledger.problems).toEqual([])
    expect(ledger.complete()).toBe(true)
    expect(closes).toEqual(Array(WEBSOCKETS).fill(1000))
    expect(misattributed).toEqual([])
    // every device had its own connection open at once, and the websockets besides
    expect(peak.openConnections).toBeGreaterThanOrEqual(DEVICES)
    expect(peak.openWebsockets).toBe(WEBSOCKETS)
    expect(devices.every((d) => d.lastWrite !== undefined)).toBe(true)
    // flat while the same fleet runs: live heap after a full GC, and fds
    if (running === undefined || last === undefined) throw new Error('no marks')
    expect(last.heap.heapUsedKb - running.heap.heapUsedKb).toBeLessThan(HEAP_FLAT_KB)
    expect(Math.abs(ownFds(last.resources) - ownFds(running.resources))).toBeLessThanOrEqual(FD_FLAT)
    // back to the baseline once the devices left
    expect(after.openConnections).toBe(before.openConnections)
    expect(after.openWebsockets).toBe(0)
    expect(ownFds(after)).toBeLessThanOrEqual(ownFds(before) + 2)
    expect(heapAfter.heapUsedKb - heapBefore.heapUsedKb).toBeLessThan(HEAP_BACK_KB)
    expect(after.rssKb).toBeLessThan(before.rssKb + RSS_BOUND_KB)
    expect(churn.problems).toEqual([])
    expect(churn.complete()).toBe(true)
    expect(ownFds(afterChurn)).toBeLessThanOrEqual(ownFds(before) + 2)
    expect(heapChurn.heapUsedKb - heapAfter.heapUsedKb).toBeLessThan(CHURN_LEAK_KB)
    expect(gw.lines.filter((l) => (l.level as number) >= 50)).toEqual([])
  } finally {
    await Promise.all(devices.map(async (d) => await d.client.destroy().catch(() => {})))
    await gw.stop()
  }
}, 300_000 + SECONDS * 1000)
