// The TLS guard over real sockets: which certificates are admitted, which are refused, and the reason code logged.
import { describe, expect } from 'vitest'
import type { TestCert, TestPki } from '../support/pki.js'
import type { GatewayHandle } from '../support/gateway.js'
import { gatewayTest as it } from '../support/fixtures.js'
import { eventually, tlsProbe } from '../support/device.js'

const certOf = (pki: TestPki, c: TestCert): Record<string, unknown> =>
  ({ ca: pki.root.certPem, cert: c.chainPem, key: c.keyPem })

async function refusedWith (gw: GatewayHandle, opts: Record<string, unknown>, code: string): Promise<void> {
  const before = gw.withCode(code).length
  const r = await tlsProbe(gw.port, opts)
  expect(r.response).toBeUndefined()
  expect(await eventually(() => gw.withCode(code).length > before)).toBe(true)
}

describe('TLS guard', () => {
  for (const kind of ['rsa', 'ec', 'ed25519'] as const) {
    it(`admits a ${kind} device certificate issued by the tenant CA`, async ({ gateway: gw, backend: { pki, sim } }) => {
      const r = await tlsProbe(gw.port, certOf(pki, pki.devices[kind]))
      expect(r.response).toMatch(/^HTTP\/1\.1 200/)
      expect(r.response).toContain('{"status":"ok"}')
    })
  }

  it('admits a device whose certificate chains through an intermediate it sends', async ({ gateway: gw, backend: { pki, sim } }) => {
    const r = await tlsProbe(gw.port, certOf(pki, pki.devices.viaIntermediate))
    expect(r.response).toMatch(/^HTTP\/1\.1 200/)
  })

  it('refuses a client without a certificate (MTLS_ERR_TLS_NO_CERT)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, { ca: pki.root.certPem }, 'MTLS_ERR_TLS_NO_CERT')
  })

  it('refuses a certificate from a foreign CA (MTLS_ERR_TLS_UNKNOWN_CA)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, certOf(pki, pki.devices.foreign), 'MTLS_ERR_TLS_UNKNOWN_CA')
  })

  it('refuses a certificate from a fake CA with the same subject DN (MTLS_ERR_TLS_UNKNOWN_CA)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, certOf(pki, pki.devices.fakeRoot), 'MTLS_ERR_TLS_UNKNOWN_CA')
  })

  it('refuses an expired certificate (MTLS_ERR_TLS_CERT_EXPIRED)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, certOf(pki, pki.devices.expired), 'MTLS_ERR_TLS_CERT_EXPIRED')
  })

  it('refuses a not-yet-valid certificate (MTLS_ERR_TLS_CERT_NOT_YET_VALID)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, certOf(pki, pki.devices.notYetValid), 'MTLS_ERR_TLS_CERT_NOT_YET_VALID')
  })

  it('refuses a server-only certificate used as a client certificate (MTLS_ERR_TLS_KEY_USAGE)', async ({ gateway: gw, backend: { pki, sim } }) => {
    await refusedWith(gw, certOf(pki, pki.server), 'MTLS_ERR_TLS_KEY_USAGE')
  })

  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    it(`refuses ${version} clients (MTLS_ERR_TLS_PROTOCOL)`, async ({ gateway: gw, backend: { pki, sim } }) => {
      await refusedWith(gw, { ...certOf(pki, pki.devices.ec), minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' }, 'MTLS_ERR_TLS_PROTOCOL')
    })
  }

  it('logs the refused certificate\'s serial and fingerprint', async ({ gateway: gw, backend: { pki, sim } }) => {
    const dev = pki.devices.foreign
    await refusedWith(gw, certOf(pki, dev), 'MTLS_ERR_TLS_UNKNOWN_CA')
    const line = gw.withCode('MTLS_ERR_TLS_UNKNOWN_CA').at(-1) as { device?: { serial: string, fingerprint: string } }
    expect(line.device?.fingerprint).toBe(dev.fingerprint256.replaceAll(':', '').toLowerCase())
  })

  it('forwards nothing to the backend for refused handshakes', async ({ gateway: gw, backend: { pki, sim } }) => {
    const before = sim.requests.length
    await tlsProbe(gw.port, certOf(pki, pki.devices.foreign))
    await tlsProbe(gw.port, { ca: pki.root.certPem })
    expect(sim.requests.length).toBe(before)
  })
})
