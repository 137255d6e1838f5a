// Abuse against a real gateway process: a handshake flood (silent sockets, garbage bytes, TLS 1.0 ClientHellos) from
// other source addresses while legitimate devices keep being served; slowloris headers and bodies cut by the
// configured timeouts; connection churn with abrupt resets at every phase; running out of file descriptors under
// `prlimit`. Every legitimate request is accounted for in a ledger, the process stays up, and connections, fds and
// memory return to their baseline afterwards. Figures go to .cache/reliability/abuse-*.json.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBackend, type Backend } from '../support/gateway.js'
import { metricValue } from '../support/metrics.js'
import type { TestCert } from '../support/pki.js'
import { writeFigures } from './support/figures.js'
import { Ledger, runPool } from './support/ledger.js'
import { makeFleet, type Fleet } from './support/devices.js'
import {
  ownFds, seriousLogs, settled, startGatewayProcess, type GatewayProcess, type GatewayProcessOptions, type Resources
} from './support/resources.js'

let backend: Backend
let fleet: Fleet
let device: TestCert

beforeAll(async () => {
  backend = await openBackend()
  fleet = await makeFleet(backend.pki, 8)
  device = fleet.devices[0]?.cert as TestCert
}, 120_000)

afterAll(async () => { await backend?.close() })

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const RSS_BOUND_KB = 256 * 1024

async function withGateway (
  env: Record<string, string>, fn: (gw: GatewayProcess, baseline: Resources) => Promise<void>,
  extra: Partial<GatewayProcessOptions> = {}
): Promise<void> {
  backend.sim.reset()
  const gw = await startGatewayProcess({ pki: backend.pki, backendUrl: backend.sim.url, env, ...extra })
  try {
    await fn(gw, await gw.sample())
  } finally {
    await gw.stop()
  }
}

/** Waits until `socket` closes (true) or `ms` pass (false); reads and discards what arrives. */
async function closedWithin (socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return true
  socket.resume()
  return await Promise.race([
    new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
    sleep(ms).then(() => false)
  ])
}

function openTcp (port: number, localAddress: string): Socket {
  const s = tcpConnect({ port, host: '127.0.0.1', localAddress })
  s.on('error', () => {})
  return s
}

/** A TLS 1.0 ClientHello (record and handshake version 3.1, RSA AES suites, no extensions). */
function tls10Hello (): Buffer {
  // version 3.1, random, no session id, two cipher suites, null compression
  const tail = Buffer.from([0x00, 0x00, 0x04, 0x00, 0x2f, 0x00, 0x35, 0x01, 0x00])
  const body = Buffer.concat([Buffer.from([0x03, 0x01]), randomBytes(32), tail])
  const handshake = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body])
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, handshake.length >> 8, handshake.length & 0xff]), handshake])
}

/** A real TLS 1.0 client (OpenSSL's s_client, TLS 1.0 allowed at security level 0): what it printed. */
async function opensslTls1 (port: number): Promise<string> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1', '-cipher', 'DEFAULT@SECLEVEL=0', '-servername', 'localhost']
  const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await new Promise((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return out
}

interface Report { resources: { before: Resources, peak: Resources, after: Resources } }

/** Samples RSS and fds every 250 ms while `work` runs; the peak of each. */
async function sampled (gw: GatewayProcess, work: () => Promise<void>): Promise<Resources> {
  let peak = await gw.sample()
  const state = { running: true }
  const sampler = (async () => {
    while (state.running && gw.alive()) {
      const s = await gw.sample().catch(() => undefined)
      if (s !== undefined) peak = { ...s, rssKb: Math.max(s.rssKb, peak.rssKb), fds: Math.max(s.fds, peak.fds) }
      await sleep(250)
    }
  })()
  try {
    await work()
  } finally {
    state.running = false
    await sampler
  }
  return peak
}

/** Process up, back to its baseline of connections and fds, memory bounded. */
async function expectRecovered (gw: GatewayProcess, before: Resources, peak: Resources): Promise<Report> {
  expect(gw.alive()).toBe(true)
  const after = await settled(gw, before, 2, 30_000)
  expect(after.openConnections).toBe(before.openConnections)
  expect(ownFds(after)).toBeLessThanOrEqual(ownFds(before) + 2)
  expect(after.rssKb).toBeLessThan(before.rssKb + RSS_BOUND_KB)
  expect(seriousLogs(gw)).toEqual([])
  return { resources: { before, peak, after } }
}

describe('abuse', () => {
  it('serves legitimate devices through a handshake flood of silent sockets, garbage and TLS 1.0 hellos', async () => {
    await withGateway({ MTLS_HANDSHAKE_TIMEOUT: '3000' }, async (gw, before) => {
      const ledger = new Ledger('legit')
      const flood = { silent: 0, garbage: 0, tls10: 0, tls10Alerts: 0, opensslTls1: 0, opensslRefused: 0 }
      const until = Date.now() + 8000
      const peak = await sampled(gw, async () => {
        const silent = async (w: number): Promise<void> => {
          for (let i = 0; i < 100 && Date.now() < until; i++) {
            const s = openTcp(gw.port, `127.0.0.${2 + (w % 4)}`)
            flood.silent++
            if (!await closedWithin(s, 6000)) s.destroy()
          }
        }
        const garbage = async (w: number): Promise<void> => {
          for (let i = 0; i < 2000 && Date.now() < until; i++) {
            const s = openTcp(gw.port, `127.0.0.${6 + (w % 2)}`)
            s.write(randomBytes(1 + (i % 700)))
            flood.garbage++
            if (!await closedWithin(s, 6000)) s.destroy()
          }
        }
        const tls10 = async (w: number): Promise<void> => {
          for (let i = 0; i < 2000 && Date.now() < until; i++) {
            const s = openTcp(gw.port, `127.0.0.${8 + (w % 2)}`)
            let first: number | undefined
            s.once('data', (d: Buffer) => { first = d[0] })
            s.write(tls10Hello())
            flood.tls10++
            if (!await closedWithin(s, 6000)) s.destroy()
            if (first === 0x15) flood.tls10Alerts++
          }
        }
        const openssl = async (): Promise<void> => {
          for (let i = 0; i < 5 && Date.now() < until; i++) {
            flood.opensslTls1++
            if ((await opensslTls1(gw.port)).includes('alert protocol version')) flood.opensslRefused++
          }
        }
        await Promise.all([
          openssl(),
          ...Array.from({ length: 120 }, async (_, w) => await silent(w)),
          ...Array.from({ length: 8 }, async (_, w) => await garbage(w)),
          ...Array.from({ length: 8 }, async (_, w) => await tls10(w)),
          fleet.run(gw.url, ledger, until)
        ])
      })
      const refusals = {
        handshake: gw.withCode('MTLS_ERR_TLS_HANDSHAKE').length,
        protocol: gw.withCode('MTLS_ERR_TLS_PROTOCOL').length
      }
      const report = await expectRecovered(gw, before, peak)
      writeFigures('abuse-handshake-flood', { legit: ledger.summary(), flood, refusals, ...report })
      expect(ledger.problems).toEqual([])
      expect(ledger.complete()).toBe(true)
      expect(fleet.misattributed(backend.sim)).toEqual([])
      expect(flood.tls10Alerts).toBeGreaterThan(0)
      expect(flood.opensslRefused).toBe(flood.opensslTls1)
      expect(flood.opensslTls1).toBeGreaterThan(0)
      expect(refusals.protocol).toBeGreaterThan(0)
      expect(refusals.handshake).toBeGreaterThan(0)
    })
  })

  it('cuts slowloris headers and bodies at the configured timeouts while devices are served', async () => {
    await withGateway({ MTLS_HEADERS_TIMEOUT: '1000', MTLS_REQUEST_TIMEOUT: '2500' }, async (gw, before) => {
      const ledger = new Ledger('legit')
      const cut: Record<string, number[]> = { headers: [], authBody: [], proxiedBody: [] }
      const uncut: string[] = []
      const dribble = async (kind: string, head: string, piece: string): Promise<void> => {
        const s = tlsConnect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: backend.pki.root.certPem, cert: device.chainPem, key: device.keyPem })
        s.on('error', () => {})
        await new Promise((resolve) => s.once('secureConnect', resolve))
        const started = Date.now()
        s.write(head)
        s.resume()
        const conn = { closed: false }
        s.once('close', () => { conn.closed = true })
        for (let i = 0; i < 40 && !conn.closed; i++) {
          await sleep(250)
          if (!conn.closed) s.write(piece)
        }
        if (conn.closed) cut[kind]?.push(Date.now() - started)
        else uncut.push(kind)
        s.destroy()
      }
      const h = 'Host: localhost\r\n'
      const peak = await sampled(gw, async () => {
        await Promise.all([
          ...Array.from({ length: 15 }, async () => await dribble('headers', `GET /api/devices/v1/deployments/device/deployments/next HTTP/1.1\r\n${h}`, 'X-Slow: 1\r\n')),
          ...Array.from({ length: 15 }, async () => await dribble('authBody', `POST /api/devices/v1/authentication/auth_requests HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{`, '          ')),
          ...Array.from({ length: 15 }, async () => await dribble('proxiedBody', `PATCH /api/devices/v1/inventory/device/attributes HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n[`, '          ')),
          fleet.run(gw.url, ledger, Date.now() + 6000)
        ])
      })
      const report = await expectRecovered(gw, before, peak)
      const max = (xs: number[] | undefined): number => Math.max(0, ...(xs ?? []))
      writeFigures('abuse-slowloris', {
        legit: ledger.summary(),
        slow: {
          headers: cut.headers?.length,
          authBody: cut.authBody?.length,
          proxiedBody: cut.proxiedBody?.length,
          uncut: uncut.length
        },
        cutAfterMs: { headers: max(cut.headers), authBody: max(cut.authBody), proxiedBody: max(cut.proxiedBody) },
        timeouts: gw.withCode('MTLS_ERR_REQUEST_TIMEOUT').length,
        upstreamErrors: gw.lines.filter((l) => l.code?.startsWith('MTLS_ERR_UPSTREAM_') === true).length,
        ...report
      })
      expect(uncut).toEqual([])
      // cut by the configured deadlines (never earlier), each with a logged 408
      const min = (xs: number[] | undefined): number => Math.min(...(xs ?? []))
      expect(min(cut.headers)).toBeGreaterThanOrEqual(1000 - 50)
      expect(min(cut.authBody)).toBeGreaterThanOrEqual(2500 - 50)
      expect(min(cut.proxiedBody)).toBeGreaterThanOrEqual(2500 - 50)
      expect(gw.withCode('MTLS_ERR_REQUEST_TIMEOUT')).toHaveLength(45)
      // a device that stalls its body is not a Mender failure: no upstream error logged or counted
      expect(gw.lines.filter((l) => l.code?.startsWith('MTLS_ERR_UPSTREAM_') === true)).toEqual([])
      expect(await metricValue(gw.statusUrl, 'mtls_upstream_errors_total')).toBeUndefined()
      expect(ledger.problems).toEqual([])
      expect(ledger.complete()).toBe(true)
    })
  })

  it('survives connection churn with abrupt resets at every phase of a connection', async () => {
    await withGateway({}, async (gw, before) => {
      const ledger = new Ledger('legit')
      const phases = ['tcp', 'hello', 'handshake', 'partial', 'midbody', 'inflight'] as const
      const counts: Record<string, number> = Object.fromEntries(phases.map((p) => [p, 0]))
      const churn = Array.from({ length: 600 }, (_, i) => phases[i % phases.length] as typeof phases[number])
      const peak = await sampled(gw, async () => {
        await Promise.all([
          runPool(churn, 20, async (phase, i) => {
            const raw = openTcp(gw.port, `127.0.0.${2 + (i % 8)}`)
            await new Promise((resolve) => { raw.once('connect', resolve); raw.once('error', resolve) })
            if (phase !== 'tcp') {
              const s = tlsConnect({ socket: raw, servername: 'localhost', ca: backend.pki.root.certPem, cert: device.chainPem, key: device.keyPem })
              s.on('error', () => {})
              if (phase === 'hello') await sleep(i % 5)
              else {
                await Promise.race([new Promise((resolve) => s.once('secureConnect', resolve)), sleep(5000)])
                if (phase === 'partial') s.write('PATCH /api/devices/v1/inventory/device/attributes HTTP/1.1\r\nHost: local')
                if (phase === 'inflight') s.write('GET /api/devices/v1/deployments/device/deployments/next HTTP/1.1\r\nHost: localhost\r\n\r\n')
                if (phase === 'midbody') s.write('PATCH /api/devices/v1/inventory/device/attributes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"name":')
                if (phase !== 'handshake') await sleep(i % 7)
              }
            }
            counts[phase] = (counts[phase] ?? 0) + 1
            raw.resetAndDestroy()
          }),
          fleet.run(gw.url, ledger, Date.now() + 60_000, 30)
        ])
      })
      const report = await expectRecovered(gw, before, peak)
      writeFigures('abuse-churn', { legit: ledger.summary(), resets: counts, ...report })
      expect(ledger.problems).toEqual([])
      expect(ledger.complete()).toBe(true)
      expect(fleet.misattributed(backend.sim)).toEqual([])
    })
  })

  it('refuses connections beyond its file descriptor limit cleanly, with a code, and recovers once they close', async () => {
    const NOFILE = 256
    await withGateway({}, async (gw, before) => {
      const flood: Socket[] = []
      const ledger = new Ledger('legit')
      let during: Resources | undefined
      const peak = await sampled(gw, async () => {
        for (let i = 0; i < NOFILE + 100; i++) flood.push(openTcp(gw.port, '127.0.0.3'))
        // every socket connected (the listen backlog holds them all) or ended before the gateway's view is sampled
        await Promise.all(flood.map(async (s) => await Promise.race([
          new Promise((resolve) => { s.once('connect', resolve); s.once('close', resolve) }), sleep(10_000)
        ])))
        await sleep(1500)
        during = await gw.sample()
        expect(gw.alive()).toBe(true)
        for (const s of flood) s.destroy()
        await settled(gw, before, 2, 15_000)
        await fleet.run(gw.url, ledger, Date.now() + 30_000, 6)
      })
      const refused = gw.withCode('MTLS_ERR_TLS_CONN_LIMIT').length
      const report = await expectRecovered(gw, before, peak)
      writeFigures('abuse-fd-exhaustion', {
        nofile: NOFILE, opened: flood.length, refused, during, fdLimitWarnings: gw.withCode('MTLS_WARN_FD_LIMIT').length, legitAfter: ledger.summary(), ...report
      })
      // the cap leaves descriptors to spare: every refusal is counted and logged, none dropped by the kernel unseen
      expect(gw.withCode('MTLS_WARN_FD_LIMIT')).toHaveLength(1)
      expect(during?.fds).toBeLessThan(NOFILE - 32)
      expect(refused).toBe(flood.length - (NOFILE - 64) / 2)
      expect(ledger.problems).toEqual([])
      expect(ledger.complete()).toBe(true)
    }, { nofile: NOFILE })
  })
})
