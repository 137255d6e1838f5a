// Reload under load: a real gateway process serving devices and a reverse tunnel (to a TCP echo) at once, while its
// server certificate, CA bundle, CRL and denylist files are rewritten and SIGHUP reloads them 5 times. Meanwhile 10
// connections stream without pause: 5 devices upload deployment logs through the gateway (chunked PUTs, each body's
// SHA-256 compared with what Mender received) and 5 tunnel streams carry bytes both ways (SHA-256 of what came back).
// Nothing streaming fails. After each reload, new connections get the new policy: the new server certificate (gateway
// and tunnel), a device denylisted or put on the CRL in that round refused on its next connection with
// MTLS_ERR_TLS_REVOKED (also when it offers its TLS session from before: the figures record whether sessions resume
// across a reload), while the connection it already had keeps its admission; a foreign CA's device admitted exactly
// while its CA is in the bundle.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Client } from 'undici'
import { issueCrl, issueDeviceCert, issueServerCert, type Issued } from '../../src/tools/pki/index.js'
import { openBackend, type Backend } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest } from '../support/device.js'
import { echoServer } from '../support/tunnel.js'
import { writeFigures } from './support/figures.js'
import { Ledger } from './support/ledger.js'
import { TEST_WORKERS, ownFds, settled, startGatewayProcess, type GatewayProcess } from './support/resources.js'

const ROUNDS = 5
const UPLOADS = 5
const STREAMS = 5
/** Each upload: this many chunks of CHUNK bytes of log messages, one every PACE_MS (about 1.5 s per upload). */
const CHUNKS = 24
const CHUNK = 24 * 1024
const PACE_MS = 60
/** Pause between two reloads, so every stream spans several of them. */
const BETWEEN_MS = 1500

let backend: Backend
let echo: Awaited<ReturnType<typeof echoServer>>
let dir: string
let servers: Issued[]
let uploaders: Issued[]
let streamers: Issued[]
let denied: Issued[]
let revoked: Issued[]
let good: Issued

const files = (): Record<'cert' | 'key' | 'ca' | 'crl' | 'denylist', string> => ({
  cert: join(dir, 'server.crt'),
  key: join(dir, 'server.key'),
  ca: join(dir, 'ca.pem'),
  crl: join(dir, 'crl.pem'),
  denylist: join(dir, 'denylist.txt')
})

async function devices (prefix: string, n: number): Promise<Issued[]> {
  return await Promise.all(Array.from({ length: n }, async (_, i) =>
    await issueDeviceCert(backend.pki.root, { cn: `${prefix}-${i}`, keyType: 'ec' })))
}

beforeAll(async () => {
  backend = await openBackend()
  echo = await echoServer()
  dir = await mkdtemp(join(tmpdir(), 'mtls-reload-'))
  const serverCert = async (): Promise<Issued> =>
    await issueServerCert(backend.pki.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] })
  servers = await Promise.all(Array.from({ length: ROUNDS + 1 }, serverCert))
  ;[uploaders, streamers, denied, revoked] = await Promise.all([
    devices('upload', UPLOADS), devices('stream', STREAMS), devices('denied', ROUNDS), devices('revoked', ROUNDS)
  ])
  good = (await devices('good', 1))[0] as Issued
}, 120_000)

afterAll(async () => {
  await echo?.close()
  await backend?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Writes a file atomically (temp + rename), as operators and Kubernetes do. */
async function put (path: string, text: string): Promise<void> {
  await writeFile(path + '.tmp', text)
  await rename(path + '.tmp', path)
}

/** The trust files of round `r` (0: the start): its server certificate, CA bundle, CRL and denylist. */
async function writeRound (r: number): Promise<void> {
  const f = files()
  const pki = backend.pki
  const server = servers[r] as Issued
  // the foreign CA is trusted in odd rounds only; the CRL and the denylist grow by one device each round
  const ca = r % 2 === 1 ? pki.trust.pem + pki.foreign.certPem : pki.trust.pem
  const crl = await issueCrl(pki.root, { revokedSerials: revoked.slice(0, r).map((d) => d.serialHex) })
  const denylist = ['# denied devices', ...denied.slice(0, r).map((d) => d.serialHex.toUpperCase())].join('\n') + '\n'
  await put(f.key, server.keyPem)
  await put(f.cert, server.chainPem)
  await put(f.ca, ca)
  await put(f.crl, crl)
  await put(f.denylist, denylist)
}

function startGateway (): Promise<GatewayProcess> {
  const f = files()
  const tunnel = {
    name: 'rev',
    mode: 'reverse',
    listen: '127.0.0.1:0',
    connect: `127.0.0.1:${echo.port}`,
    allow_all: true,
    cert: f.cert,
    key: f.key,
    ca: f.ca,
    crl_paths: [f.crl],
    blacklist_path: f.denylist
  }
  return startGatewayProcess({
    pki: backend.pki,
    backendUrl: backend.sim.url,
    env: {
      MTLS_SERVER_CERT: f.cert,
      MTLS_SERVER_KEY: f.key,
      MTLS_TENANT_CA_PEM: f.ca,
      MTLS_CRL_PATHS: f.crl,
      MTLS_BLACKLIST_PATH: f.denylist,
      // reloads come from SIGHUP only, one at a time, so each is seen to apply
      MTLS_RELOAD_WATCH: 'false',
      MTLS_TUNNELS: JSON.stringify([tunnel])
    }
  })
}

/**
 * SIGHUP; resolves once the gateway and the tunnel both logged their reload (the files changed, so both apply), in
 * every worker when there are several.
 */
async function reload (gw: GatewayProcess): Promise<number> {
  const from = gw.lines.length
  const started = Date.now()
  gw.child.kill('SIGHUP')
  const reloads = (tunnel: string | undefined): typeof gw.lines => gw.lines.slice(from)
    .filter((l) => l.event === 'reload' && l.trigger === 'SIGHUP' && l.tunnel === tunnel)
  await gw.waitFor(() => reloads(undefined).length >= TEST_WORKERS && reloads('rev').length >= TEST_WORKERS)
  const outcomes = [...reloads(undefined), ...reloads('rev')].map((l) => [l.changed, l.code])
  expect(outcomes).toEqual(Array(2 * TEST_WORKERS).fill([true, undefined]))
  return Date.now() - started
}

interface Probe { status?: number, fingerprint?: string, session?: Buffer, resumed?: boolean, error?: string }

/** A new connection of `d` to `port`, asking for /status (gateway) or sending a line (tunnel echo). */
async function probe (port: number, d: Issued, kind: 'gateway' | 'tunnel', session?: Buffer): Promise<Probe> {
  return await new Promise((resolve) => {
    const out: Probe = {}
    let data = ''
    const s = tlsConnect({
      port, host: '127.0.0.1', servername: 'localhost', ca: backend.pki.root.certPem, cert: d.chainPem, key: d.keyPem, session
    })
    s.setTimeout(20_000, () => s.destroy(new Error('timeout')))
    s.on('session', (t: Buffer) => { out.session = t })
    s.once('secureConnect', () => {
      out.fingerprint = s.getPeerX509Certificate()?.fingerprint256
      out.resumed = s.isSessionReused()
      s.write(kind === 'gateway' ? 'GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' : 'ping\n')
    })
    s.on('data', (d: Buffer) => {
      data += d.toString()
      if (kind === 'tunnel' && data.includes('\n')) s.end()
    })
    s.on('error', (err: NodeJS.ErrnoException) => { out.error = err.code ?? err.message })
    s.on('close', () => {
      if (kind === 'gateway') {
        const m = /^HTTP\/1\.1 (\d+)/.exec(data)?.[1]
        if (m !== undefined) out.status = Number(m)
      } else if (data === 'ping\n') out.status = 200
      resolve(out)
    })
  })
}

/** A connection held open across a reload: /status answered on it before and after. */
interface Held { socket: TLSSocket, ask: () => Promise<number | undefined> }

async function hold (port: number, d: Issued): Promise<Held> {
  const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: backend.pki.root.certPem, cert: d.chainPem, key: d.keyPem })
  socket.on('error', () => {})
  await new Promise((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('close', reject) })
  const ask = async (): Promise<number | undefined> => await new Promise((resolve) => {
    let data = ''
    const onData = (b: Buffer): void => {
      data += b.toString()
      const m = /^HTTP\/1\.1 (\d+)[\s\S]*?\r\n\r\n/.exec(data)
      const length = Number(/content-length: (\d+)/i.exec(data)?.[1] ?? NaN)
      if (m !== null && data.length >= m[0].length + length) { done(Number(m[1])) }
    }
    const onClose = (): void => done(undefined)
    const done = (status: number | undefined): void => {
      socket.off('data', onData)
      socket.off('close', onClose)
      resolve(status)
    }
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.write('GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n')
  })
  return { socket, ask }
}

/** Log lines refusing `d` with `code` (on the tunnel when `tunnel` is set, else on the gateway), since line `from`. */
function refusals (gw: GatewayProcess, from: number, d: Issued, code: string, tunnel?: string): number {
  return gw.lines.slice(from).filter((l) => l.code === code && l.tunnel === tunnel &&
    (l.device as { serial?: string } | undefined)?.serial === d.serialHex).length
}

/** A deployment log of `CHUNKS` pieces sent one every PACE_MS; `digest` holds the SHA-256 of every byte sent. */
function logBody (): { body: AsyncIterable<Buffer>, digest: () => string, bytes: () => number } {
  const hash = createHash('sha256')
  let bytes = 0
  const emit = (b: Buffer): Buffer => { hash.update(b); bytes += b.length; return b }
  async function * body (): AsyncGenerator<Buffer> {
    yield emit(Buffer.from('{"messages":['))
    for (let i = 0; i < CHUNKS; i++) {
      const message = randomBytes((CHUNK * 3) / 4).toString('base64')
      const entry = { timestamp: new Date().toISOString(), level: 'info', message }
      yield emit(Buffer.from((i === 0 ? '' : ',') + JSON.stringify(entry)))
      await sleep(PACE_MS)
    }
    yield emit(Buffer.from(']}'))
  }
  return { body: body(), digest: () => hash.digest('hex'), bytes: () => bytes }
}

/** A device uploading deployment logs back to back on one keep-alive connection until `stop.now`. */
/** When each upload was in flight ([start, end] in ms), to tell which reloads happened during one. */
const inFlight: Array<[number, number]> = []

async function uploader (url: string, d: Issued, i: number, ledger: Ledger, stop: { now: boolean }): Promise<number> {
  const client = new Client(url, {
    connect: { ca: backend.pki.root.certPem, cert: d.chainPem, key: d.keyPem, servername: 'localhost' },
    keepAliveTimeout: 60_000,
    headersTimeout: 60_000,
    bodyTimeout: 60_000
  })
  let bytes = 0
  try {
    const req = authRequest(d.keyPem, { mac: `02:00:00:20:00:${i.toString(16).padStart(2, '0')}` })
    const auth = await ledger.run(`upload-${i}/auth`, async () => {
      const res = await client.request({ method: 'POST', path: AUTH_URL_PATH, headers: req.headers, body: req.body })
      return { status: res.statusCode, text: await res.body.text() }
    }, (a) => a.status === 200 || `auth ${a.status} ${a.text.slice(0, 120)}`)
    if (auth?.status !== 200) return 0
    for (let n = 0; n < 1000 && !stop.now; n++) {
      const path = `/api/devices/v1/deployments/device/deployments/upload-${i}-${n}/log`
      const log = logBody()
      const started = Date.now()
      await ledger.run(`upload-${i}/${n}`, async () => {
        const res = await client.request({
          method: 'PUT', path, body: Readable.from(log.body), headers: { authorization: `Bearer ${auth.text}`, 'content-type': 'application/json' }
        })
        return { status: res.statusCode, text: await res.body.text() }
      }, (a) => {
        if (a.status !== 204) return `log upload ${a.status} ${a.text.slice(0, 120)}`
        const received = backend.sim.requests.filter((r) => r.url === path)
        const got = received.map((r) => createHash('sha256').update(r.bodyBytes).digest('hex'))
        return (got.length === 1 && got[0] === log.digest()) || `Mender received ${got.length} bodies, not the one sent`
      })
      inFlight.push([started, Date.now()])
      bytes += log.bytes()
    }
  } finally {
    await client.close()
  }
  return bytes
}

/** A tunnel stream sending paced chunks until `stop.now`, then its end; what came back must hash the same. */
async function stream (port: number, d: Issued, i: number, ledger: Ledger, stop: { now: boolean }): Promise<number> {
  let sent = 0
  await ledger.run(`stream-${i}`, async () => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: backend.pki.root.certPem, cert: d.chainPem, key: d.keyPem })
    await new Promise((resolve, reject) => { s.once('secureConnect', resolve); s.once('error', reject) })
    const back = createHash('sha256')
    let received = 0
    const echoed = new Promise<void>((resolve, reject) => {
      s.on('data', (b: Buffer) => { back.update(b); received += b.length })
      s.once('end', resolve)
      s.once('error', reject)
      s.once('close', () => reject(new Error(`closed after ${received} of ${sent} bytes`)))
    })
    const out = createHash('sha256')
    for (let n = 0; n < 10_000 && !stop.now; n++) {
      const chunk = randomBytes(16 * 1024)
      out.update(chunk)
      sent += chunk.length
      if (!s.write(chunk)) await new Promise((resolve) => s.once('drain', resolve))
      await sleep(40)
    }
    s.end()
    await echoed
    return { sent: out.digest('hex'), received: back.digest('hex'), bytes: received }
  }, (a) => a.sent === a.received || `stream came back different (${a.bytes} of ${sent} bytes)`)
  return sent
}

it(`keeps ${UPLOADS + STREAMS} streams whole through ${ROUNDS} reloads and applies each new policy to new connections`, async () => {
  await writeRound(0)
  const gw = await startGateway()
  const listening = gw.lines.find((l) => l.event === 'listening')
  const rev = String((listening?.addresses as { rev?: string } | undefined)?.rev)
  const tunnelPort = Number(rev.slice(rev.lastIndexOf(':') + 1))
  const ledger = new Ledger('reload')
  const stop = { now: false }
  const rounds: Array<Record<string, unknown>> = []
  const reloadedAt: number[] = []
  const problems: string[] = []
  const check = (ok: boolean, what: string): void => { if (!ok) problems.push(what) }
  try {
    const before = await gw.sample()
    const uploads = uploaders.map(async (d, i) => await uploader(gw.url, d, i, ledger, stop))
    const streams = streamers.map(async (d, i) => await stream(tunnelPort, d, i, ledger, stop))
    await sleep(BETWEEN_MS)
    for (let r = 1; r <= ROUNDS; r++) {
      const deniedNow = denied[r - 1] as Issued
      const revokedNow = revoked[r - 1] as Issued
      // connections (and TLS sessions) the devices revoked in this round had before it
      const held = await Promise.all([hold(gw.port, deniedNow), hold(gw.port, revokedNow)])
      const heldBefore = await Promise.all(held.map(async (h) => await h.ask()))
      const [session, goodSession] = (await Promise.all([probe(gw.port, deniedNow, 'gateway'), probe(gw.port, good, 'gateway')]))
        .map((p) => p.session)
      await writeRound(r)
      const from = gw.lines.length
      reloadedAt.push(Date.now())
      const reloadMs = await reload(gw)
      const heldAfter = await Promise.all(held.map(async (h) => await h.ask()))
      for (const h of held) h.socket.destroy()
      const [deniedNew, revokedNew, deniedTunnel, revokedTunnel] = await Promise.all([
        probe(gw.port, deniedNow, 'gateway', session),
        probe(gw.port, revokedNow, 'gateway'),
        probe(tunnelPort, deniedNow, 'tunnel'),
        probe(tunnelPort, revokedNow, 'tunnel')
      ])
      const [goodGateway, goodTunnel, foreign] = await Promise.all([
        probe(gw.port, good, 'gateway', goodSession), probe(tunnelPort, good, 'tunnel'),
        probe(gw.port, backend.pki.devices.foreign, 'gateway')
      ])
      const earlier = await Promise.all([...denied.slice(0, r - 1), ...revoked.slice(0, r - 1)]
        .map(async (d) => await probe(gw.port, d, 'gateway')))
      await sleep(500)
      const want = (servers[r] as Issued).fingerprint256
      check(heldBefore.every((s) => s === 200) && heldAfter.every((s) => s === 200),
        `round ${r}: open connections answered ${heldBefore.join()} before, ${heldAfter.join()} after`)
      check([deniedNew, revokedNew, deniedTunnel, revokedTunnel].every((p) => p.status === undefined),
        `round ${r}: a revoked device got an answer on a new connection`)
      check(refusals(gw, from, deniedNow, 'MTLS_ERR_TLS_REVOKED') === 1 && refusals(gw, from, revokedNow, 'MTLS_ERR_TLS_REVOKED') === 1,
        `round ${r}: the gateway logged no MTLS_ERR_TLS_REVOKED for the device revoked in this round`)
      check(refusals(gw, from, deniedNow, 'MTLS_ERR_TLS_REVOKED', 'rev') === 1 &&
        refusals(gw, from, revokedNow, 'MTLS_ERR_TLS_REVOKED', 'rev') === 1, `round ${r}: the tunnel logged no refusal`)
      check(earlier.every((p) => p.status === undefined), `round ${r}: a device revoked earlier was admitted again`)
      check(goodGateway.status === 200 && goodTunnel.status === 200, `round ${r}: a good device was refused`)
      check(goodGateway.fingerprint === want && goodTunnel.fingerprint === want,
        `round ${r}: new connections saw another server certificate`)
      check((foreign.status === 200) === (r % 2 === 1),
        `round ${r}: the foreign CA's device was ${foreign.status === 200 ? 'admitted' : 'refused'}`)
      check(r % 2 === 1 || refusals(gw, from, backend.pki.devices.foreign, 'MTLS_ERR_TLS_UNKNOWN_CA') === 1,
        `round ${r}: the foreign CA's device was refused without MTLS_ERR_TLS_UNKNOWN_CA`)
      rounds.push({
        round: r,
        reloadMs,
        heldAfter,
        foreign: foreign.status ?? foreign.error ?? 'refused',
        // whether a TLS session from before the reload resumed after it (the guard re-checks resumed ones too)
        offeredSession: session !== undefined,
        goodResumedAcrossReload: goodGateway.resumed
      })
      await sleep(BETWEEN_MS)
    }
    stop.now = true
    const uploaded = await Promise.all(uploads)
    const streamed = await Promise.all(streams)
    const after = await settled(gw, before, 2, 30_000)
    const summary = ledger.summary()
    const duringUploads = reloadedAt.filter((t) => inFlight.some(([a, b]) => a <= t && t <= b)).length
    writeFigures('reload', {
      reloads: ROUNDS,
      requests: summary,
      uploads: {
        count: summary.sent - STREAMS - UPLOADS,
        bytes: uploaded.reduce((a, b) => a + b, 0),
        reloadsDuring: duringUploads
      },
      tunnelStreams: { count: STREAMS, bytesEachWay: streamed.reduce((a, b) => a + b, 0) },
      rounds,
      refused: gw.withCode('MTLS_ERR_TLS_REVOKED').length,
      resources: { before, after },
      fds: { before: before.fds, after: after.fds }
    })
    expect(problems).toEqual([])
    expect(ledger.problems).toEqual([])
    expect(ledger.complete()).toBe(true)
    // uploads spanned the reloads (every reload happened while uploads were in flight), every one whole
    expect(duringUploads).toBe(ROUNDS)
    expect(summary.sent - STREAMS - UPLOADS).toBeGreaterThanOrEqual(UPLOADS * 2)
    expect(gw.withCode('MTLS_ERR_RELOAD_FAILED')).toEqual([])
    expect(after.openConnections).toBe(before.openConnections)
    expect(ownFds(after)).toBeLessThanOrEqual(ownFds(before) + 2)
  } finally {
    stop.now = true
    await gw.stop()
  }
}, 170_000)
