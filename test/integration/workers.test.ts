// Worker processes (`workers: 2`) behind one listening address, as a real process: devices are served and
// authenticated by both workers; a TLS 1.3 session resumes on whichever worker takes the next connection; the status
// listener's /metrics adds up every worker's counters; SIGHUP reaches every worker; a killed worker is replaced while
// service goes on; SIGTERM drains an in-flight request and exits 0; a reverse tunnel carries bytes with two workers;
// a worker's startup failure fails the start as a single process would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { X509Certificate, randomBytes } from 'node:crypto'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type PeerCertificate } from 'node:tls'
import { request } from 'undici'
import { issueServerCert } from '../../src/tools/pki/index.js'
import type { TestCert, TestPki } from '../support/pki.js'
import { TEST_USER, openBackend, type Backend } from '../support/gateway.js'
import { runCli, type CliProcess } from '../support/process.js'
import { authRequest, deviceAgent, eventually, eventuallyAsync, postAuth, send } from '../support/device.js'
import { metricValue } from '../support/metrics.js'
import { echoServer, mtlsConnected, reverseTunnel, type EchoServer } from '../support/tunnel.js'
import { STATUS_REQUEST, sClient as openSslClient, type SClientOutcome } from '../support/s-client.js'

const WORKERS = 2
const RECONNECTS = 8

let backend: Backend
let pki: TestPki
let dir: string

beforeAll(async () => {
  backend = await openBackend()
  pki = backend.pki
  dir = await mkdtemp(join(tmpdir(), 'mtls-workers-'))
  await writeFile(join(dir, 'server.crt'), pki.server.chainPem)
  await writeFile(join(dir, 'server.key'), pki.server.keyPem)
}, 60_000)

afterAll(async () => {
  await backend?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

function env (extra: Record<string, string> = {}): Record<string, string> {
  return {
    MTLS_WORKERS: String(WORKERS),
    MTLS_LISTEN: '127.0.0.1:0',
    MTLS_STATUS_LISTEN: '127.0.0.1:0',
    MTLS_MENDER_BACKEND: backend.sim.url,
    MTLS_MENDER_USER: TEST_USER.email,
    MTLS_MENDER_PASS: TEST_USER.password,
    MTLS_SERVER_CERT: join(dir, 'server.crt'),
    MTLS_SERVER_KEY: join(dir, 'server.key'),
    MTLS_TENANT_CA_PEM: pki.trust.path,
    MTLS_RELOAD_WATCH: 'false',
    MTLS_AUTH_RATE_LIMIT: '0',
    MTLS_MAX_EVENT_LOOP_DELAY: '0',
    ...extra
  }
}

/** The workers that logged access lines from log line `from` on. */
function servedBy (p: CliProcess, from: number): Set<unknown> {
  return new Set(p.lines.slice(from).filter((l) => l.event === 'access').map((l) => l.worker))
}

/** One request on a connection of its own (a new connection may land on any worker). */
async function freshGet (url: string, dev: TestCert, path: string): Promise<number> {
  const agent = deviceAgent(pki, dev)
  try {
    return (await send(agent, url + path)).status
  } finally {
    await agent.close()
  }
}

/** `openssl s_client` to `port` presenting `dev`, resuming from `sessIn`, saving its session to `sessOut`. */
async function sClient (port: number, dev: TestCert, sessOut: string, sessIn?: string): Promise<SClientOutcome> {
  const resume = sessIn === undefined ? {} : { sessIn }
  return await openSslClient({ port, dev, caPath: pki.root.certPath, sessOut, input: STATUS_REQUEST, ...resume })
}

/** The fingerprint of the certificate the gateway presents on a new connection. */
async function presented (port: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem }, () => {
      const fp = (s.getPeerCertificate() as PeerCertificate).fingerprint256
      s.end()
      resolve(fp)
    })
    s.on('error', reject)
  })
}

describe(`gateway with ${WORKERS} workers`, () => {
  let p: CliProcess
  let url: string
  let statusUrl: string
  let port: number

  beforeAll(async () => {
    p = runCli(['serve'], env())
    const listening = await p.waitFor((l) => l.event === 'listening', 60_000)
    expect(listening.workers).toBe(WORKERS)
    url = String(listening.url).replace('127.0.0.1', 'localhost')
    statusUrl = String(listening.statusUrl)
    port = Number(new URL(url).port)
  }, 90_000)

  afterAll(async () => {
    if (p?.child.exitCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  })

  it('serves requests and device auth from every worker, each on its own connections', async () => {
    const from = p.lines.length
    for (let i = 0; i < 8; i++) {
      const agent = deviceAgent(pki, pki.devices.ec)
      const identity = { mac: `02:00:00:00:10:${String(i).padStart(2, '0')}` }
      const auth = await postAuth(agent, url, authRequest(pki.devices.ec.keyPem, identity))
      await agent.close()
      expect(auth.status).toBe(200)
      expect(backend.sim.state.deviceByIdentity(identity)?.status).toBe('accepted')
    }
    expect(await eventually(() => servedBy(p, from).size === WORKERS, 5000)).toBe(true)
  }, 60_000)

  it('resumes a TLS 1.3 session on every reconnection, whichever worker takes it', async () => {
    const from = p.lines.length
    const file = (i: number): string => join(dir, `chain-${i}.sess`)
    const outcomes = [await sClient(port, pki.devices.ec, file(0))]
    for (let i = 1; i <= RECONNECTS; i++) outcomes.push(await sClient(port, pki.devices.ec, file(i), file(i - 1)))
    expect(outcomes.map((o) => `${o.session ?? 'failed'} ${o.version ?? ''}`))
      .toEqual(['New TLSv1.3', ...Array<string>(RECONNECTS).fill('Reused TLSv1.3')])
    expect(outcomes.every((o) => o.output.includes('HTTP/1.1 200'))).toBe(true)
    expect(await eventually(() => servedBy(p, from).size === WORKERS, 5000)).toBe(true)
  }, 120_000)

  it('adds up every worker\'s counters on the status listener\'s /metrics', async () => {
    const labels = { route: 'device', method: 'GET', status: '401' }
    const before = await metricValue(statusUrl, 'mtls_requests_total', labels) ?? 0
    const from = p.lines.length
    const SENT = 10
    for (let i = 0; i < SENT; i++) {
      expect(await freshGet(url, pki.devices.ec, '/api/devices/v1/deployments/device/deployments/next')).toBe(401)
    }
    expect(servedBy(p, from).size).toBe(WORKERS)
    expect(await metricValue(statusUrl, 'mtls_requests_total', labels)).toBe(before + SENT)
    expect(await metricValue(statusUrl, 'mtls_workers')).toBe(WORKERS)
    // a gauge that is not a count takes the soonest expiry, not a sum
    const expiry = await metricValue(statusUrl, 'mtls_server_certificate_expiry_seconds') ?? NaN
    const validTo = Date.parse(new X509Certificate(pki.server.certPem).validTo)
    expect(Math.abs(expiry - (validTo - Date.now()) / 1000)).toBeLessThan(600)
  }, 60_000)

  it('is ready only while every worker is, and says how many are', async () => {
    const res = await request(statusUrl + '/readyz')
    const body = await res.body.json() as { status: string, checks: Record<string, { ok: boolean, detail?: string }> }
    expect(res.statusCode).toBe(200)
    expect(body.checks.workers).toEqual({ ok: true, detail: `${WORKERS} of ${WORKERS} ready` })
    expect(body.checks.tls?.ok).toBe(true)
  })

  it('reloads every worker on SIGHUP: every new connection gets the new server certificate', async () => {
    const next = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] })
    const fresh = next.fingerprint256
    await writeFile(join(dir, 'server.key.tmp'), next.keyPem)
    await writeFile(join(dir, 'server.crt.tmp'), next.chainPem)
    await rename(join(dir, 'server.key.tmp'), join(dir, 'server.key'))
    await rename(join(dir, 'server.crt.tmp'), join(dir, 'server.crt'))
    const from = p.lines.length
    p.child.kill('SIGHUP')
    const done = await p.waitFor((l) => p.lines.indexOf(l) >= from && l.event === 'workers_reloaded', 30_000)
    expect(done).toMatchObject({ workers: WORKERS, ok: true })
    // a worker answers the primary once its reload is logged, but its line may reach the shared stdout pipe after the
    // primary's (a full pipe makes the logger write later): wait for every worker's line, not for the order
    const reloadedBy = (): Set<unknown> =>
      new Set(p.lines.slice(from).filter((l) => l.event === 'reload' && l.changed === true).map((l) => l.worker))
    await p.waitFor(() => reloadedBy().size === WORKERS, 30_000)
    expect(reloadedBy().size).toBe(WORKERS)
    const seen = await Promise.all(Array.from({ length: 6 }, async () => await presented(port)))
    expect(new Set(seen)).toEqual(new Set([fresh]))
  }, 60_000)

  it('replaces a worker that was killed, and keeps serving meanwhile', async () => {
    const from = p.lines.length
    const pids = await childPids(p.child.pid as number)
    expect(pids).toHaveLength(WORKERS)
    process.kill(pids[0] as number, 'SIGKILL')
    const exit = await p.waitFor((l) => p.lines.indexOf(l) >= from && l.event === 'worker_exit', 20_000)
    expect(exit).toMatchObject({ code: 'MTLS_ERR_WORKER_EXIT', signal: 'SIGKILL', pid: pids[0] })
    // the other worker serves while the replacement starts
    expect(await freshGet(url, pki.devices.ec, '/status')).toBe(200)
    const started = await p.waitFor((l) => p.lines.indexOf(l) >= from && l.event === 'worker_started', 60_000)
    expect(started.pid).not.toBe(pids[0])
    expect(await eventuallyAsync(async () => await metricValue(statusUrl, 'mtls_workers') === WORKERS, 10_000)).toBe(true)
    expect(await metricValue(statusUrl, 'mtls_worker_restarts_total')).toBe(1)
    const after = p.lines.length
    for (let i = 0; i < 6; i++) expect(await freshGet(url, pki.devices.ec, '/status')).toBe(200)
    expect(servedBy(p, after).has(started.worker)).toBe(true)
  }, 120_000)

  it('drains an in-flight request on SIGTERM, then every worker and the primary exit 0', async () => {
    const pids = await childPids(p.child.pid as number)
    const agent = deviceAgent(pki, pki.devices.ec)
    const next = '/api/devices/v1/deployments/device/deployments/next?drain=1'
    try {
      backend.sim.faults.latency('device', 1000)
      const inflight = send(agent, url + next)
      expect(await eventually(() => backend.sim.requests.some((r) => r.url === next), 10_000)).toBe(true)
      p.child.kill('SIGTERM')
      expect((await inflight).status).toBe(401)
      expect(await p.exited).toBe(0)
      expect(pids.filter(alive)).toEqual([])
    } finally {
      backend.sim.faults.clear()
      await agent.close()
    }
  }, 60_000)
})

/** The pids of a process's children (its workers). */
async function childPids (pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises')
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
  return text.trim().split(/\s+/).filter((s) => s !== '').map(Number)
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe(`tunnels with ${WORKERS} workers`, () => {
  let echo: EchoServer

  beforeAll(async () => { echo = await echoServer() })
  afterAll(async () => { await echo?.close() })

  it('carries bytes through a reverse tunnel served by every worker', async () => {
    const p = runCli(['serve'], {
      ...env({ MTLS_MENDER_BACKEND: '', MTLS_MENDER_USER: '', MTLS_MENDER_PASS: '' }),
      MTLS_TUNNELS: JSON.stringify([reverseTunnel(pki, echo.address)])
    })
    try {
      const listening = await p.waitFor((l) => l.event === 'listening', 60_000)
      expect(listening.workers).toBe(WORKERS)
      const address = String((listening.addresses as Record<string, string>).reverse)
      for (let i = 0; i < 6; i++) {
        const payload = randomBytes(64 * 1024)
        const s = await mtlsConnected(address, pki, pki.devices.ec)
        const back: Buffer[] = []
        s.on('data', (d: Buffer) => back.push(d))
        const closed = new Promise((resolve) => s.on('close', resolve))
        s.end(payload)
        await closed
        expect(Buffer.concat(back).equals(payload)).toBe(true)
      }
      const carried = p.lines.filter((l) => l.event === 'tunnel_connection').map((l) => l.worker)
      expect(new Set(carried).size).toBe(WORKERS)
    } finally {
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
    }
  }, 120_000)

  it('fails the start with exit 1 and the single-process message when a worker cannot load its trust', async () => {
    const p = runCli(['serve'], env({ MTLS_SERVER_CERT: '/nonexistent/server.crt' }))
    expect(await p.exited).toBe(1)
    const fatal = p.lines.find((l) => l.level === 'fatal')
    expect(fatal?.code).toBe('MTLS_ERR_TLS_MATERIAL')
    expect(fatal?.msg).toMatch(/^startup failed: cannot load TLS material: server certificate \/nonexistent\/server\.crt/)
    expect(p.lines.some((l) => l.event === 'worker_exit')).toBe(false)
  }, 60_000)
})
