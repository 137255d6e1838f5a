// TLS 1.3 resumption that keeps working: every resumed handshake issues a fresh ticket, so a client chaining its
// sessions (openssl s_client -sess_in/-sess_out, Node's 'session' event) resumes on every reconnection, against the
// gateway and a reverse tunnel alike. A device denylisted meanwhile is still refused when it offers its ticket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import type { TestCert, TestPki } from '../support/pki.js'
import { openBackend, startGateway, TEST_USER, type Backend, type GatewayHandle } from '../support/gateway.js'
import { echoServer, reverseTunnel, startTunnels, type EchoServer, type TunnelsHandle } from '../support/tunnel.js'
import { eventually } from '../support/device.js'
import { STATUS_REQUEST, sClient as openSslClient, type SClientOutcome } from '../support/s-client.js'

const RECONNECTS = 5

let backend: Backend
let pki: TestPki
let dir: string

beforeAll(async () => {
  backend = await openBackend()
  pki = backend.pki
  dir = await mkdtemp(join(tmpdir(), 'mtls-resumption-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
  await backend?.close()
})

type Outcome = SClientOutcome

/** One `openssl s_client` connection presenting `dev` (see support/s-client.ts), checked against the test root. */
async function sClient (
  port: number, dev: TestCert, sessOut: string, input: string, sessIn?: string, extra: string[] = []
): Promise<Outcome> {
  const resume = sessIn === undefined ? {} : { sessIn }
  return await openSslClient({ port, dev, caPath: pki.root.certPath, sessOut, input, ...resume, extra })
}

/** A full handshake, then `RECONNECTS` connections each resuming the session the previous one saved. */
async function chain (port: number, dev: TestCert, name: string, input: string, extra?: string[]): Promise<Outcome[]> {
  const file = (i: number): string => join(dir, `${name}-${i}.sess`)
  const outcomes = [await sClient(port, dev, file(0), input, undefined, extra)]
  for (let i = 1; i <= RECONNECTS; i++) outcomes.push(await sClient(port, dev, file(i), input, file(i - 1), extra))
  return outcomes
}

const summary = (outcomes: Outcome[]): string[] => outcomes.map((o) => `${o.session ?? 'failed'} ${o.version ?? ''}`)
const allResumed = ['New TLSv1.3', ...Array<string>(RECONNECTS).fill('Reused TLSv1.3')]

/** One Node connection to the tunnel (resuming `session`), with the last ticket it received. */
async function nodeProbe (port: number, dev: TestCert, session?: Buffer): Promise<{ resumed: boolean, next?: Buffer }> {
  return await new Promise((resolve, reject) => {
    let next: Buffer | undefined
    let resumed = false
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem, session })
    s.on('session', (t: Buffer) => { next = t })
    s.on('secureConnect', () => { resumed = s.isSessionReused() })
    s.on('data', () => {})
    s.on('error', reject)
    s.on('close', () => resolve({ resumed, next }))
  })
}

describe('gateway', () => {
  let gw: GatewayHandle
  beforeAll(async () => { gw = await startGateway({ pki, backendUrl: backend.sim.url }) })
  afterAll(async () => { await gw?.close() })

  it(`resumes on each of ${RECONNECTS} chained reconnections (openssl s_client -sess_in/-sess_out)`, async () => {
    const outcomes = await chain(gw.port, pki.devices.ec, 'gateway', STATUS_REQUEST)
    expect(summary(outcomes)).toEqual(allResumed)
    // every connection, resumed ones included, was admitted and answered
    expect(outcomes.map((o) => /HTTP\/1\.1 (\d{3}) /.exec(o.output)?.[1])).toEqual(Array<string>(RECONNECTS + 1).fill('200'))
    const admitted = gw.logs.filter((l) => l.msg === 'tls admitted' && l.resumed === true)
    expect(admitted.length).toBeGreaterThanOrEqual(RECONNECTS)
  }, 120_000)
})

describe('gateway, named tenant selected by server name', () => {
  let gw: GatewayHandle
  beforeAll(async () => {
    const acme = { name: 'acme', ca_pem: pki.foreign.certPath, sni: ['acme.test'] }
    gw = await startGateway({
      pki,
      backendUrl: backend.sim.url,
      overrides: { tenants: [{ ...acme, mender_user: TEST_USER.email, mender_pass: TEST_USER.password }] }
    })
  })
  afterAll(async () => { await gw?.close() })

  it(`resumes on each of ${RECONNECTS} chained reconnections in the tenant's own context`, async () => {
    const request = STATUS_REQUEST.replace('Host: localhost', 'Host: acme.test')
    const outcomes = await chain(gw.port, pki.devices.foreign, 'tenant', request, ['-servername', 'acme.test'])
    expect(summary(outcomes)).toEqual(allResumed)
    const statuses = outcomes.map((o) => /HTTP\/1\.1 (\d{3}) /.exec(o.output)?.[1])
    expect(statuses).toEqual(Array<string>(RECONNECTS + 1).fill('200'))
    const admitted = gw.logs.filter((l) => l.msg === 'tls admitted' && l.resumed === true &&
      (l.device as { tenant?: string } | undefined)?.tenant === 'acme')
    expect(admitted.length).toBeGreaterThanOrEqual(RECONNECTS)
  }, 120_000)
})

describe('reverse tunnel', () => {
  let target: EchoServer
  let tunnel: TunnelsHandle
  let port: number
  beforeAll(async () => {
    // the target answers and closes, so each client sees the end of its connection
    target = await echoServer(undefined, (s) => { s.end('hello from the target\n') })
    tunnel = await startTunnels([reverseTunnel(pki, target.address)])
    port = Number(tunnel.address('reverse').split(':').pop())
  })
  afterAll(async () => {
    await tunnel?.close()
    await target?.close()
  })

  it(`resumes on each of ${RECONNECTS} chained reconnections (openssl s_client -sess_in/-sess_out)`, async () => {
    const outcomes = await chain(port, pki.devices.ec, 'tunnel', '')
    expect(summary(outcomes)).toEqual(allResumed)
    for (const o of outcomes) expect(o.output).toContain('hello from the target')
    expect(target.accepted()).toBe(RECONNECTS + 1)
  }, 120_000)

  it(`resumes on each of ${RECONNECTS} chained reconnections (Node tls.connect with the 'session' ticket)`, async () => {
    let { next: session } = await nodeProbe(port, pki.devices.rsa)
    const resumed: boolean[] = []
    for (let i = 0; i < RECONNECTS; i++) {
      expect(session).toBeDefined()
      const probe = await nodeProbe(port, pki.devices.rsa, session)
      resumed.push(probe.resumed)
      session = probe.next
    }
    expect(resumed).toEqual(Array<boolean>(RECONNECTS).fill(true))
  }, 120_000)
})

describe('revocation with resumption', () => {
  it('refuses a device denylisted (and reloaded) after it resumed, when it offers its newest ticket', async () => {
    const denylist = join(dir, 'denylist.txt')
    await writeFile(denylist, '')
    const gw = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { blacklist_path: denylist } })
    try {
      const dev = pki.devices.ec
      const file = (i: number): string => join(dir, `revoked-${i}.sess`)
      const first = await sClient(gw.port, dev, file(0), STATUS_REQUEST)
      const resumed = await sClient(gw.port, dev, file(1), STATUS_REQUEST, file(0))
      expect([first.session, resumed.session]).toEqual(['New', 'Reused'])
      expect(resumed.output).toMatch(/HTTP\/1\.1 200 /)
      await writeFile(`${denylist}.tmp`, `${dev.serialHex.toUpperCase()}\n`)
      await rename(`${denylist}.tmp`, denylist)
      expect((await gw.reload()).ok).toBe(true)
      const after = await sClient(gw.port, dev, file(2), STATUS_REQUEST, file(1))
      expect(after.output).not.toMatch(/HTTP\/1\.1 200 /)
      expect(await eventually(() => gw.logs.some((l) => l.code === 'MTLS_ERR_TLS_REVOKED' &&
        (l.device as { serial?: string } | undefined)?.serial === dev.serialHex))).toBe(true)
    } finally { await gw.close() }
  }, 120_000)
})
