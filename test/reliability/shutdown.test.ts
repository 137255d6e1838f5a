// Shutdown of a real process serving the gateway and a reverse tunnel at once. SIGTERM with requests in flight,
// open websockets and open tunnel streams: every request gets its answer, every websocket gets close 1001, a tunnel
// stream that finishes within shutdown_timeout arrives whole, the rest are cut at the deadline, and the exit is 0.
// A second SIGTERM during the drain exits at once (status 1).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect, type TLSSocket } from 'node:tls'
import { once } from 'node:events'
import WebSocket from 'ws'
import type { TestPki } from '../support/pki.js'
import { TEST_USER, openBackend, type Backend } from '../support/gateway.js'
import { runCli, type CliProcess } from '../support/process.js'
import { authRequest, deviceAgent, postAuth, send } from '../support/device.js'
import { echoServer } from '../support/tunnel.js'
import { receiveHashed, sendHashed } from '../support/net.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { writeFigures } from './support/figures.js'
import { TEST_WORKERS } from './support/resources.js'

const NEXT = '/api/devices/v1/deployments/device/deployments/next'
const DEADLINE = 3000
let pki: TestPki
let sim: Simulator
let backend: Backend
let echo: Awaited<ReturnType<typeof echoServer>>

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  echo = await echoServer()
})

const figures: Record<string, unknown> = {}

afterAll(async () => {
  writeFigures('shutdown', figures)
  await echo?.close()
  await backend?.close()
})

function start (shutdownMs: number): CliProcess {
  const tunnel = {
    name: 'rev',
    mode: 'reverse',
    listen: '127.0.0.1:0',
    connect: `127.0.0.1:${echo.port}`,
    allow_all: true,
    cert: pki.server.chainPath,
    key: pki.server.keyPath,
    ca: pki.trust.path
  }
  return runCli(['serve'], {
    MTLS_LISTEN: '127.0.0.1:0',
    MTLS_STATUS_LISTEN: '127.0.0.1:0',
    MTLS_MENDER_BACKEND: sim.url,
    MTLS_MENDER_USER: TEST_USER.email,
    MTLS_MENDER_PASS: TEST_USER.password,
    MTLS_MENDER_CERT: pki.root.certPath,
    MTLS_SERVER_CERT: pki.server.chainPath,
    MTLS_SERVER_KEY: pki.server.keyPath,
    MTLS_TENANT_CA_PEM: pki.trust.path,
    MTLS_SHUTDOWN_TIMEOUT: String(shutdownMs),
    MTLS_TUNNELS: JSON.stringify([tunnel]),
    ...(TEST_WORKERS > 1 ? { MTLS_WORKERS: String(TEST_WORKERS) } : {})
  })
}

async function addresses (p: CliProcess): Promise<{ gateway: string, rev: string }> {
  // workers start one process each (from source): give a loaded host time
  const line = await p.waitFor((l) => l.event === 'listening', 60_000)
  return line.addresses as { gateway: string, rev: string }
}

function port (address: string): number { return Number(address.slice(address.lastIndexOf(':') + 1)) }

async function tunnelStream (address: string): Promise<TLSSocket> {
  const s = connect({
    host: '127.0.0.1',
    port: port(address),
    servername: 'localhost',
    ca: pki.root.certPem,
    cert: pki.devices.ec.chainPem,
    key: pki.devices.ec.keyPem
  })
  await once(s, 'secureConnect')
  return s
}

async function websocket (gatewayUrl: string, jwt: string): Promise<{ ws: WebSocket, code: Promise<number> }> {
  const ws = new WebSocket(`${gatewayUrl.replace('https', 'wss')}/api/devices/v1/deviceconnect/connect`, {
    ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem, headers: { authorization: `Bearer ${jwt}` }
  })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return { ws, code: new Promise((resolve) => ws.once('close', (c: number) => resolve(c))) }
}

/** Writes a byte every 100 ms until the socket closes; resolves with when it closed. */
async function trickle (s: TLSSocket): Promise<number> {
  const timer = setInterval(() => { if (s.writable) s.write('x') }, 100)
  s.on('data', () => {})
  s.on('error', () => {})
  await new Promise((resolve) => s.once('close', resolve))
  clearInterval(timer)
  return Date.now()
}

it('answers in-flight requests, closes websockets with 1001, drains tunnels to the deadline, exits 0', async () => {
  const p = start(DEADLINE)
  const at = await addresses(p)
  const gatewayUrl = `https://localhost:${port(at.gateway)}`
  const agent = deviceAgent(pki, pki.devices.ec)
  try {
    const jwt = (await postAuth(agent, gatewayUrl, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:06:01' }))).text
    const sockets = await Promise.all([websocket(gatewayUrl, jwt), websocket(gatewayUrl, jwt)])
    const short = await tunnelStream(at.rev)
    const long = await Promise.all([tunnelStream(at.rev), tunnelStream(at.rev)])
    const cut = long.map(trickle)
    sim.faults.latency('device', 1500)
    const inFlight = Array.from({ length: 5 }, async () => await send(agent, gatewayUrl + NEXT))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const signalled = Date.now()
    p.child.kill('SIGTERM')
    // a stream that finishes within the deadline arrives whole
    const echoed = receiveHashed(short)
    const sent = await sendHashed(short, 4 * 1024 * 1024)
    expect(await echoed).toEqual(sent)
    const answers = (await Promise.all(inFlight)).map((a) => a.status)
    expect(answers).toEqual([401, 401, 401, 401, 401])
    const codes = await Promise.all(sockets.map(async (s) => await s.code))
    expect(codes).toEqual([1001, 1001])
    const cutAt = await Promise.all(cut)
    figures.sigterm = {
      inFlightAnswered: answers.length,
      websocketCloseCodes: codes,
      tunnelStreamWholeBytes: sent.bytes,
      tunnelStreamsCutAfterMs: cutAt.map((t) => t - signalled),
      shutdownTimeoutMs: DEADLINE
    }
    for (const closedAt of cutAt) {
      expect(closedAt - signalled).toBeGreaterThanOrEqual(DEADLINE - 200)
      expect(closedAt - signalled).toBeLessThan(DEADLINE + 5000)
    }
    expect(await p.exited).toBe(0)
    // with workers, each one cuts its own share of the two streams
    const forced = p.lines.filter((l) => l.event === 'shutdown_forced' && l.tunnel === 'rev')
    expect(forced.reduce((n, l) => n + Number(l.connections), 0)).toBe(2)
    expect(sim.requests.filter((r) => r.url === NEXT).length).toBe(5)
  } finally {
    sim.faults.clear()
    await agent.close()
    p.child.kill('SIGKILL')
  }
}, 60_000)

it('exits at once on a second SIGTERM during the drain', async () => {
  const p = start(30_000)
  const at = await addresses(p)
  try {
    const open = await tunnelStream(at.rev)
    const closed = trickle(open)
    p.child.kill('SIGTERM')
    await p.waitFor((l) => l.event === 'signal')
    const second = Date.now()
    p.child.kill('SIGTERM')
    expect(await p.exited).toBe(1)
    figures.secondSigterm = { exitCode: 1, exitedAfterMs: Date.now() - second, shutdownTimeoutMs: 30_000 }
    expect(Date.now() - second).toBeLessThan(5000)
    await closed
  } finally {
    p.child.kill('SIGKILL')
  }
}, 60_000)
