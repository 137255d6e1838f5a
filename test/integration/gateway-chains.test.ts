// Chains sent by the device over real TLS: a gateway whose tenant bundle holds only the root admits a device that
// presents leaf + intermediate (Mender's recommended two-level PKI), on fresh and resumed sessions; a CRL by the root
// revoking the intermediate cuts those devices off.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import type { TestCert, TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, eventually, postAuth } from '../support/device.js'
import { issueCrl } from '../../src/tools/pki/index.js'

let pki: TestPki
let backend: Backend
let dir: string

beforeAll(async () => {
  ;({ pki } = backend = await openBackend())
})

afterAll(async () => {
  await backend?.close()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-chains-'))
  return async () => { await rm(dir, { recursive: true, force: true }) }
})

interface Probe { status?: string, resumed: boolean, session?: Buffer }

/** One mTLS exchange asking for /status with `chainPem` as the client chain, optionally resuming `session`. */
async function probe (gw: GatewayHandle, dev: TestCert, chainPem: string, session?: Buffer): Promise<Probe> {
  return await new Promise((resolve) => {
    let data = ''
    let ticket: Buffer | undefined
    let resumed = false
    const s: TLSSocket = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: chainPem, key: dev.keyPem, session })
    s.on('session', (t: Buffer) => { ticket = t })
    s.on('secureConnect', () => {
      resumed = s.isSessionReused()
      s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    })
    s.on('data', (d: Buffer) => { data += d.toString() })
    s.on('error', () => {})
    s.on('close', () => resolve({ status: /^HTTP\/1\.1 (\d+)/.exec(data)?.[1], resumed, session: ticket }))
  })
}

const rootOnly = async (overrides: Record<string, unknown> = {}): Promise<GatewayHandle> =>
  await startGateway({
    pki, backendUrl: backend.sim.url, overrides: { tenant_ca_pem: pki.root.certPath, ...overrides }
  })

const refusedAs = async (gw: GatewayHandle, code: string, serial: string): Promise<boolean> =>
  await eventually(() => gw.logs.some((l) =>
    l.code === code && (l.device as { serial?: string } | undefined)?.serial === serial))

describe('tenant bundle holding only the root', () => {
  it('admits a device that sends its leaf and intermediate', async () => {
    const gw = await rootOnly()
    try {
      const dev = pki.devices.viaIntermediate
      expect((await probe(gw, dev, dev.chainPem)).status).toBe('200')
    } finally { await gw.close() }
  })

  it('preauthorizes such a device through the auth route', async () => {
    const gw = await rootOnly()
    const dev = pki.devices.viaIntermediate
    const agent = deviceAgent(pki, dev)
    try {
      const res = await postAuth(agent, gw.url, authRequest(dev.keyPem, { mac: '02:00:00:00:05:01' }))
      expect(res.status, res.text).toBe(200)
      expect(backend.sim.state.deviceByIdentity({ mac: '02:00:00:00:05:01' })?.status).toBe('accepted')
    } finally {
      await agent.close()
      await gw.close()
    }
  })

  it('keeps admitting such a device when it resumes its session', async () => {
    const gw = await rootOnly()
    try {
      const dev = pki.devices.viaIntermediate
      const first = await probe(gw, dev, dev.chainPem)
      expect(first.status).toBe('200')
      const again = await probe(gw, dev, dev.chainPem, first.session)
      expect(again).toMatchObject({ status: '200', resumed: true })
    } finally { await gw.close() }
  })

  it('refuses the leaf sent without its intermediate (MTLS_ERR_TLS_UNKNOWN_CA)', async () => {
    const gw = await rootOnly()
    try {
      const dev = pki.devices.viaIntermediate
      expect((await probe(gw, dev, dev.certPem)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_UNKNOWN_CA', dev.serialHex)).toBe(true)
    } finally { await gw.close() }
  })

  it('refuses such a device once a CRL by the root revokes its intermediate (MTLS_ERR_TLS_REVOKED)', async () => {
    const crlPath = join(dir, 'root.crl')
    await writeFile(crlPath, await issueCrl(pki.root, { revokedSerials: [] }))
    const gw = await rootOnly({ crl_paths: dir })
    try {
      const dev = pki.devices.viaIntermediate
      const first = await probe(gw, dev, dev.chainPem)
      expect(first.status).toBe('200')
      await writeFile(crlPath + '.tmp', await issueCrl(pki.root, { revokedSerials: [pki.intermediate.serialHex] }))
      await rename(crlPath + '.tmp', crlPath)
      expect((await gw.reload()).changed).toBe(true)
      expect((await probe(gw, dev, dev.chainPem, first.session)).status).toBeUndefined()
      expect((await probe(gw, dev, dev.chainPem)).status).toBeUndefined()
      expect(await refusedAs(gw, 'MTLS_ERR_TLS_REVOKED', dev.serialHex)).toBe(true)
      expect((await probe(gw, pki.devices.ec, pki.devices.ec.chainPem)).status).toBe('200')
    } finally { await gw.close() }
  })
})
