// Truncated PEM files never count as good trust: a CA bundle (top-level or a tenant's) or a CRL cut inside a block
// fails the reload (MTLS_ERR_RELOAD_FAILED, mtls_reloads_total{result="failed"}) and the last good state keeps
// admitting the devices of every CA; at startup the same file stops the gateway with MTLS_ERR_TLS_MATERIAL.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import type { TestCert, TestPki } from '../support/pki.js'
import { TEST_USER, startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { tlsProbe } from '../support/device.js'
import { runCli } from '../support/process.js'
import { createRootCa, issueDeviceCert } from '../../src/tools/pki/index.js'

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
  dir = await mkdtemp(join(tmpdir(), 'mtls-pem-'))
  return async () => { await rm(dir, { recursive: true, force: true }) }
})

async function put (path: string, text: string): Promise<void> {
  await writeFile(path + '.tmp', text)
  await rename(path + '.tmp', path)
}

/** `pem` cut in the middle of the body of its second PEM block. */
function cutInsideSecond (pem: string): string {
  const second = pem.indexOf('-----BEGIN', pem.indexOf('-----END'))
  const end = pem.indexOf('-----END', second)
  return pem.slice(0, second + Math.floor((end - second) / 2))
}

const admitted = async (port: number, dev: Pick<TestCert, 'chainPem' | 'keyPem'>): Promise<boolean> =>
  (await tlsProbe(port, { ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem })).response?.startsWith('HTTP/1.1 200') === true

async function expectFailedReload (gw: GatewayHandle, file: string): Promise<void> {
  const result = await gw.reload()
  expect(result.ok).toBe(false)
  const line = gw.withCode('MTLS_ERR_RELOAD_FAILED').at(-1)
  expect(String(line?.cause)).toContain(file)
  const metrics = await (await request(gw.statusUrl + '/metrics')).body.text()
  expect(metrics).toMatch(/^mtls_reloads_total\{result="failed"\} 1$/m)
}

describe('truncated PEM files', () => {
  it('a tenant CA bundle cut inside its second certificate fails the reload; both CAs\' devices stay admitted', async () => {
    const bundle = join(dir, 'ca.pem')
    const pem = pki.root.certPem + pki.foreign.certPem
    await put(bundle, pem)
    const gw = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { tenant_ca_pem: bundle } })
    try {
      expect([await admitted(gw.port, pki.devices.ec), await admitted(gw.port, pki.devices.foreign)])
        .toEqual([true, true])
      await put(bundle, cutInsideSecond(pem))
      await expectFailedReload(gw, bundle)
      expect([await admitted(gw.port, pki.devices.ec), await admitted(gw.port, pki.devices.foreign)])
        .toEqual([true, true])
    } finally { await gw.close() }
  })

  it('a bundle of a tenant in `tenants:` cut inside its second certificate fails the reload', async () => {
    const bundle = join(dir, 'acme.pem')
    const other = await createRootCa({ cn: 'acme second CA' })
    const otherDevice = await issueDeviceCert(other, { cn: 'acme-second' })
    const pem = pki.foreign.certPem + other.certPem
    await put(bundle, pem)
    const gw = await startGateway({
      pki,
      backendUrl: backend.sim.url,
      overrides: { tenants: [{ name: 'acme', ca_pem: bundle, mender_user: TEST_USER.email, mender_pass: TEST_USER.password }] }
    })
    try {
      const devices = [pki.devices.ec, pki.devices.foreign, otherDevice]
      expect(await Promise.all(devices.map(async (d) => await admitted(gw.port, d)))).toEqual([true, true, true])
      await put(bundle, cutInsideSecond(pem))
      await expectFailedReload(gw, bundle)
      expect(await Promise.all(devices.map(async (d) => await admitted(gw.port, d)))).toEqual([true, true, true])
    } finally { await gw.close() }
  })

  it('a server chain cut inside its second certificate fails the reload', async () => {
    const chain = join(dir, 'server.crt')
    const pem = pki.server.certPem + pki.intermediate.certPem
    await put(chain, pem)
    const gw = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { server_cert: chain } })
    try {
      await put(chain, cutInsideSecond(pem))
      await expectFailedReload(gw, chain)
      expect(await admitted(gw.port, pki.devices.ec)).toBe(true)
    } finally { await gw.close() }
  })

  it('a CRL file cut inside its block fails the reload and the revoked device stays refused', async () => {
    const crl = await pki.crl('truncated', [pki.devices.rsa.serialHex])
    const crlPath = join(dir, 'root.crl')
    await put(crlPath, crl.pem)
    const gw = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { crl_paths: crlPath } })
    try {
      await put(crlPath, crl.pem.slice(0, Math.floor(crl.pem.length * 0.7)))
      await expectFailedReload(gw, crlPath)
      expect([await admitted(gw.port, pki.devices.rsa), await admitted(gw.port, pki.devices.ec)]).toEqual([false, true])
    } finally { await gw.close() }
  })

  it('a CA bundle cut inside its second certificate stops the start (MTLS_ERR_TLS_MATERIAL)', async () => {
    const bundle = join(dir, 'ca.pem')
    await put(bundle, cutInsideSecond(pki.root.certPem + pki.foreign.certPem))
    await expect(startGateway({ pki, backendUrl: backend.sim.url, overrides: { tenant_ca_pem: bundle } }))
      .rejects.toMatchObject({ code: 'MTLS_ERR_TLS_MATERIAL', message: expect.stringContaining(bundle) })
  })

  it('a gateway process keeps its last good bundle when SIGHUP finds it truncated', async () => {
    const bundle = join(dir, 'ca.pem')
    const pem = pki.root.certPem + pki.foreign.certPem
    await put(bundle, pem)
    const p = runCli(['serve'], {
      MTLS_LISTEN: '127.0.0.1:0',
      MTLS_STATUS_LISTEN: '127.0.0.1:0',
      MTLS_MENDER_BACKEND: backend.sim.url,
      MTLS_MENDER_USER: TEST_USER.email,
      MTLS_MENDER_PASS: TEST_USER.password,
      MTLS_SERVER_CERT: pki.server.chainPath,
      MTLS_SERVER_KEY: pki.server.keyPath,
      MTLS_TENANT_CA_PEM: bundle,
      MTLS_RELOAD_WATCH: 'false'
    })
    try {
      const { url, statusUrl } = await p.waitFor((l) => l.event === 'listening') as { url: string, statusUrl: string }
      const port = Number(new URL(url).port)
      await put(bundle, cutInsideSecond(pem))
      p.child.kill('SIGHUP')
      const line = await p.waitFor((l) => l.event === 'reload')
      expect(line).toMatchObject({ code: 'MTLS_ERR_RELOAD_FAILED', trigger: 'SIGHUP' })
      const metrics = await (await request(statusUrl + '/metrics')).body.text()
      expect(metrics).toMatch(/^mtls_reloads_total\{result="failed"\} 1$/m)
      expect([await admitted(port, pki.devices.ec), await admitted(port, pki.devices.foreign)]).toEqual([true, true])
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
    }
  })
})
