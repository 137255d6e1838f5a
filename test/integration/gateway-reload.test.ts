// Hot reload over real sockets: a new server certificate is served to new connections while open ones continue; a
// broken or half-written certificate/key pair never replaces the last good one, and a failed reload is retried;
// Kubernetes-style `..data` symlink swaps are seen by the folder watch. Results show in metrics and /readyz.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { request } from 'undici'
import type { TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { eventually } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { issueServerCert, type Issued } from '../../src/tools/pki/index.js'

let pki: TestPki
let sim: Simulator
let backend: Backend
let dir: string
let next: Issued

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  next = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] })
})

afterAll(async () => {
  await backend?.close()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-reload-'))
  return async () => { await rm(dir, { recursive: true, force: true }) }
})

async function put (path: string, text: string): Promise<void> {
  await writeFile(path + '.tmp', text)
  await rename(path + '.tmp', path)
}

/** Starts a gateway whose server certificate and key live in `dir` (copies of the test PKI's). */
async function gateway (overrides: Record<string, unknown> = {}): Promise<GatewayHandle> {
  await put(join(dir, 'server.crt'), pki.server.chainPem)
  await put(join(dir, 'server.key'), pki.server.keyPem)
  return await startGateway({ pki, backendUrl: sim.url, overrides: { server_cert: join(dir, 'server.crt'), server_key: join(dir, 'server.key'), ...overrides } })
}

/** The fingerprint of the server certificate a new connection sees. */
async function servedFingerprint (gw: GatewayHandle): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
    s.once('secureConnect', () => { resolve(s.getPeerX509Certificate()?.fingerprint256 ?? ''); s.destroy() })
    s.once('error', reject)
  })
}

const fp = (i: Issued): string => i.fingerprint256

describe('hot reload', () => {
  it('serves a new server certificate to new connections while an open connection keeps working', async () => {
    const gw = await gateway()
    const open = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
    try {
      await new Promise((resolve) => open.once('secureConnect', resolve))
      expect(await servedFingerprint(gw)).toBe(fp(pki.server))
      await put(join(dir, 'server.crt'), next.chainPem)
      await put(join(dir, 'server.key'), next.keyPem)
      expect((await gw.reload()).changed).toBe(true)
      expect(await servedFingerprint(gw)).toBe(fp(next))
      const answer = new Promise<string>((resolve) => open.once('data', (d: Buffer) => resolve(d.toString())))
      open.write('GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n')
      expect(await answer).toMatch(/^HTTP\/1\.1 200/)
    } finally {
      open.destroy()
      await gw.close()
    }
  })

  it('keeps serving the last good certificate when the new one is broken, and says so in metrics and /readyz', async () => {
    const gw = await gateway()
    try {
      await put(join(dir, 'server.crt'), '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n')
      const result = await gw.reload()
      expect(result.ok).toBe(false)
      expect(gw.withCode('MTLS_ERR_RELOAD_FAILED').length).toBe(1)
      expect(await servedFingerprint(gw)).toBe(fp(pki.server))
      const metrics = await (await request(gw.statusUrl + '/metrics')).body.text()
      expect(metrics).toMatch(/^mtls_reloads_total\{result="failed"\} 1$/m)
      const ready = await request(gw.statusUrl + '/readyz')
      expect(ready.statusCode).toBe(200)
      expect(((await ready.body.json()) as { checks: { reload: { ok: boolean } } }).checks.reload.ok).toBe(false)
    } finally { await gw.close() }
  })

  it('never pairs a new certificate with the old key when they are written one after the other', async () => {
    const gw = await gateway()
    try {
      await put(join(dir, 'server.crt'), next.chainPem)
      expect((await gw.reload()).ok).toBe(false)
      expect(await servedFingerprint(gw)).toBe(fp(pki.server))
      await put(join(dir, 'server.key'), next.keyPem)
      expect((await gw.reload()).ok).toBe(true)
      expect(await servedFingerprint(gw)).toBe(fp(next))
    } finally { await gw.close() }
  })

  it('retries a failed reload on its own', async () => {
    const gw = await gateway({ reload_retry_interval: 200, reload_watch: false })
    try {
      await put(join(dir, 'server.crt'), next.chainPem)
      expect((await gw.reload()).ok).toBe(false)
      await writeFile(join(dir, 'server.key'), next.keyPem)
      expect(await eventually(() => gw.logs.some((l) => l.event === 'reload' && l.trigger === 'retry' && l.changed === true), 3000)).toBe(true)
      expect(await servedFingerprint(gw)).toBe(fp(next))
    } finally { await gw.close() }
  })

  it('sees a Kubernetes-style atomic ..data symlink swap', async () => {
    const v1 = join(dir, '..v1')
    const v2 = join(dir, '..v2')
    await mkdir(v1)
    await mkdir(v2)
    await writeFile(join(v1, 'server.crt'), pki.server.chainPem)
    await writeFile(join(v1, 'server.key'), pki.server.keyPem)
    await writeFile(join(v2, 'server.crt'), next.chainPem)
    await writeFile(join(v2, 'server.key'), next.keyPem)
    await symlink('..v1', join(dir, '..data'))
    await symlink('..data/server.crt', join(dir, 'tls.crt'))
    await symlink('..data/server.key', join(dir, 'tls.key'))
    const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { server_cert: join(dir, 'tls.crt'), server_key: join(dir, 'tls.key') } })
    try {
      expect(await servedFingerprint(gw)).toBe(fp(pki.server))
      await symlink('..v2', join(dir, '..data_tmp'))
      await rename(join(dir, '..data_tmp'), join(dir, '..data'))
      expect(await eventually(() => gw.logs.some((l) => l.event === 'reload' && l.changed === true), 5000)).toBe(true)
      expect(await servedFingerprint(gw)).toBe(fp(next))
    } finally { await gw.close() }
  })
})
