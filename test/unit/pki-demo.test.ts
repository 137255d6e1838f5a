// The demo PKI on disk: layout, permissions, what each file holds, and idempotence.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { demoLayout, writeDemoPki, type DemoPkiLayout } from '../../src/tools/pki/index.js'

const certsIn = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p))
const read = async (path: string): Promise<string> => await readFile(path, 'utf8')

let dir: string
let layout: DemoPkiLayout

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-demo-'))
  layout = await writeDemoPki(join(dir, 'certs'))
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('writeDemoPki', () => {
  it('reports that it created the PKI', () => {
    expect(layout.created).toBe(true)
  })

  it('uses the container layout', () => {
    const paths = [layout.server.cert, layout.server.key, layout.tenantCa.cert, layout.tenantCa.key,
      layout.devices['device-ec'].cert, layout.devices['device-ec'].key].map((p) => p.slice(layout.dir.length + 1))
    expect(paths).toEqual(['server/server.crt', 'server/server.key', 'tenant-ca/tenant.ca.pem', 'tenant-ca/tenant.ca.key',
      'devices/device-ec/device.crt', 'devices/device-ec/device.key'])
  })

  it('writes private keys with mode 0600', async () => {
    const modes = await Promise.all([layout.rootCa.key, layout.server.key, layout.tenantCa.key,
      ...Object.values(layout.devices).map((d) => d.key)].map(async (p) => (await stat(p)).mode & 0o777))
    expect(new Set(modes)).toEqual(new Set([0o600]))
  })

  it('gives the server the SANs local runs and compose need', async () => {
    const [server] = certsIn(await read(layout.server.cert))
    expect(server?.subjectAltName).toBe('DNS:localhost, DNS:mtls-ambassador, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  })

  it('signs the server certificate with the CA devices are told to trust', async () => {
    const [server] = certsIn(await read(layout.server.cert))
    const [ca] = certsIn(await read(layout.server.ca))
    expect(ca !== undefined && server?.checkIssued(ca)).toBe(true)
  })

  it('bundles the root and the tenant CA for the gateway', async () => {
    expect(certsIn(await read(layout.tenantCa.cert)).map((c) => c.ca)).toEqual([true, true])
  })

  it('gives each device a chain file holding the tenant CA', async () => {
    const [, tenant] = certsIn(await read(layout.tenantCa.cert))
    const [leaf, issuer] = certsIn(await read(layout.devices['device-rsa'].cert))
    expect(tenant !== undefined && leaf?.checkIssued(tenant) === true && issuer?.raw.equals(tenant.raw)).toBe(true)
  })

  it('keeps the tenant CA key matching the tenant CA certificate', async () => {
    const [, tenant] = certsIn(await read(layout.tenantCa.cert))
    expect(tenant?.checkPrivateKey(createPrivateKey(await read(layout.tenantCa.key)))).toBe(true)
  })

  it('writes one device per key type', async () => {
    const types = await Promise.all(Object.values(layout.devices).map(async (d) => createPrivateKey(await read(d.key))))
    expect(types.map((k) => k.asymmetricKeyType)).toEqual(['rsa', 'ec', 'ed25519'])
  })

  it('leaves an existing PKI untouched', async () => {
    const before = await read(layout.tenantCa.key)
    const again = await writeDemoPki(layout.dir)
    expect([again.created, await read(layout.tenantCa.key)]).toEqual([false, before])
  })

  it('regenerates everything with force', async () => {
    const scratch = join(dir, 'forced')
    const first = await writeDemoPki(scratch)
    const before = await read(first.tenantCa.key)
    await writeDemoPki(scratch, { force: true })
    expect(await read(first.tenantCa.key)).not.toBe(before)
  })

  it('refuses to complete a partial PKI without force', async () => {
    const scratch = join(dir, 'partial')
    const first = await writeDemoPki(scratch)
    await unlink(first.devices['device-ec'].key)
    await expect(writeDemoPki(scratch)).rejects.toThrow(/incomplete PKI/)
  })
})

describe('demoLayout', () => {
  it('resolves paths under the folder without touching the disk', () => {
    expect(demoLayout('some/where').server.ca.endsWith(join('some', 'where', 'server', 'ca.pem'))).toBe(true)
  })
})
