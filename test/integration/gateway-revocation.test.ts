// Revocation over real sockets: denylist and CRL refusals at start and after live updates, for fresh and resumed
// TLS sessions; stale-CRL policy; a CRL not signed by a tenant CA refused at load. Nothing refused reaches Mender.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import type { TestCert, TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { eventually } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { issueCrl } from '../../src/tools/pki/index.js'

let pki: TestPki
let sim: Simulator
let backend: Backend
let dir: string

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
})

afterAll(async () => {
  await backend?.close()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-revocation-'))
  return async () => { await rm(dir, { recursive: true, force: true }) }
})

/** Writes a file atomically (temp + rename), as operators and Kubernetes do. */
async function put (path: string, text: string): Promise<void> {
  await writeFile(path + '.tmp', text)
  await rename(path + '.tmp', path)
}

interface Probe { status?: string, resumed: boolean, session?: Buffer, error?: string }

/** One mTLS connection asking for /status, optionally resuming `session`. */
async function probe (gw: GatewayHandle, dev: TestCert, session?: Buffer): Promise<Probe> {
  return await new Promise((resolve) => {
    let data = ''
    let ticket: Buffer | undefined
    let resumed = false
    const s: TLSSocket = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem, session })
    s.on('session', (t: Buffer) => { ticket = t })
    s.on('secureConnect', () => { resumed = s.isSessionReused() })
    s.on('secureConnect', () => s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
    s.on('data', (d: Buffer) => { data += d.toString() })
    s.on('error', (err: NodeJS.ErrnoException) => resolve({ resumed, error: err.code }))
    s.on('close', () => resolve({ status: /^HTTP\/1\.1 (\d+)/.exec(data)?.[1], resumed, session: ticket }))
  })
}

const refusedAs = async (gw: GatewayHandle, code: string, serial: string): Promise<boolean> =>
  await eventually(() => gw.logs.some((l) =>
    l.code === code && (l.device as { serial?: string } | undefined)?.serial === serial))

describe('denylist', () => {
  it('refuses a denylisted serial (MTLS_ERR_TLS_REVOKED) and admits others', async () => {
    const denylist = join(dir, 'blacklist.txt')
    await put(denylist, `# revoked devices\n${pki.devices.rsa.serialHex.toUpperCase()}\n`)
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { blacklist_path: denylist } })
    try {
      expect((await probe(gw, pki.devices.rsa)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', pki.devices.rsa.serialHex)).toBe(true)
      expect((await probe(gw, pki.devices.ec)).status).toBe('200')
    } finally { await gw.close() }
  })

  it('refuses a device denylisted live, also when it tries to resume its session', async () => {
    const denylist = join(dir, 'blacklist.txt')
    await put(denylist, '')
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { blacklist_path: denylist } })
    try {
      const first = await probe(gw, pki.devices.ec)
      expect(first.status).toBe('200')
      const resumedBefore = await probe(gw, pki.devices.ec, first.session)
      expect(resumedBefore).toMatchObject({ status: '200', resumed: true })
      await put(denylist, pki.devices.ec.serialHex + '\n')
      expect((await gw.reload()).changed).toBe(true)
      expect((await probe(gw, pki.devices.ec, resumedBefore.session ?? first.session)).status).toBeUndefined()
      expect((await probe(gw, pki.devices.ec)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', pki.devices.ec.serialHex)).toBe(true)
      expect(sim.requests.filter((r) => r.url.startsWith('/api/devices')).length).toBe(0)
    } finally { await gw.close() }
  })

  it('picks up a denylist change by watching its folder', async () => {
    const denylist = join(dir, 'blacklist.txt')
    await put(denylist, '')
    const gw = await startGateway({
      pki, backendUrl: sim.url, overrides: { blacklist_path: denylist, reload_watch: true }
    })
    try {
      await put(denylist, pki.devices.ed25519.serialHex + '\n')
      expect(await eventually(() => gw.logs.some((l) => l.event === 'reload' && l.changed === true && l.denylisted === 1), 5000)).toBe(true)
      expect((await probe(gw, pki.devices.ed25519)).status).toBeUndefined()
    } finally { await gw.close() }
  })
})

describe('CRL', () => {
  it('refuses a device its issuer\'s CRL lists (MTLS_ERR_TLS_REVOKED)', async () => {
    const crl = await pki.crl('root-1', [pki.devices.rsa.serialHex])
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: crl.path } })
    try {
      expect((await probe(gw, pki.devices.rsa)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', pki.devices.rsa.serialHex)).toBe(true)
      expect((await probe(gw, pki.devices.ec)).status).toBe('200')
    } finally { await gw.close() }
  })

  it('applies a live CRL update to fresh and resumed sessions', async () => {
    const crlPath = join(dir, 'root.crl')
    await put(crlPath, await issueCrl(pki.root, { revokedSerials: [] }))
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: dir } })
    try {
      const first = await probe(gw, pki.devices.ec)
      const resumed = await probe(gw, pki.devices.ec, first.session)
      expect(resumed).toMatchObject({ status: '200', resumed: true })
      await put(crlPath, await issueCrl(pki.root, { revokedSerials: [pki.devices.ec.serialHex] }))
      await gw.reload()
      expect((await probe(gw, pki.devices.ec, resumed.session ?? first.session)).status).toBeUndefined()
      expect((await probe(gw, pki.devices.ec)).status).toBeUndefined()
      expect((await probe(gw, pki.devices.rsa)).status).toBe('200')
    } finally { await gw.close() }
  })

  it('reads a DER-encoded CRL', async () => {
    const pem = await issueCrl(pki.root, { revokedSerials: [pki.devices.ed25519.serialHex] })
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
    await writeFile(join(dir, 'root.crl'), der)
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: join(dir, 'root.crl') } })
    try {
      expect((await probe(gw, pki.devices.ed25519)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', pki.devices.ed25519.serialHex)).toBe(true)
    } finally { await gw.close() }
  })

  it('cuts off every device below an intermediate its root\'s CRL revokes', async () => {
    const crl = await pki.crl('root-intermediate', [pki.intermediate.serialHex])
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: crl.path } })
    try {
      expect((await probe(gw, pki.devices.viaIntermediate)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', pki.devices.viaIntermediate.serialHex)).toBe(true)
      expect((await probe(gw, pki.devices.ec)).status).toBe('200')
    } finally { await gw.close() }
  })

  it('watches a CRL folder that starts empty', async () => {
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: dir } })
    try {
      expect((await probe(gw, pki.devices.rsa)).status).toBe('200')
      await put(join(dir, 'root.crl'), await issueCrl(pki.root, { revokedSerials: [pki.devices.rsa.serialHex] }))
      expect(await eventually(() => gw.logs.some((l) => l.event === 'reload' && l.changed === true && l.crls === 1), 5000)).toBe(true)
      expect((await probe(gw, pki.devices.rsa)).status).toBeUndefined()
    } finally { await gw.close() }
  })

  it('refuses devices of an issuer whose CRL is stale when the policy says refuse (MTLS_ERR_TLS_CRL_STALE)', async () => {
    const past = new Date(Date.now() - 3600_000)
    const crl = await pki.crl('stale', [], { thisUpdate: new Date(past.getTime() - 86400_000), nextUpdate: past })
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: crl.path, crl_stale_policy: 'refuse' } })
    try {
      expect((await probe(gw, pki.devices.ec)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_CRL_STALE', pki.devices.ec.serialHex)).toBe(true)
    } finally { await gw.close() }
  })

  it('keeps using a stale CRL with a warning when the policy says keep', async () => {
    const past = new Date(Date.now() - 3600_000)
    const crl = await pki.crl('stale-keep', [pki.devices.rsa.serialHex], { thisUpdate: new Date(past.getTime() - 86400_000), nextUpdate: past })
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: crl.path, crl_stale_policy: 'keep' } })
    try {
      expect((await probe(gw, pki.devices.ec)).status).toBe('200')
      expect(gw.withCode('MTLS_WARN_CRL_STALE').length).toBeGreaterThan(0)
      expect((await probe(gw, pki.devices.rsa)).status).toBeUndefined()
    } finally { await gw.close() }
  })

  it('refuses to start with a CRL no tenant CA signed (MTLS_ERR_TLS_MATERIAL)', async () => {
    const crl = await pki.crl('foreign', [], { issuer: 'foreign' })
    await expect(startGateway({ pki, backendUrl: sim.url, overrides: { crl_paths: crl.path } })).rejects.toMatchObject({ code: 'MTLS_ERR_TLS_MATERIAL' })
  })
})
