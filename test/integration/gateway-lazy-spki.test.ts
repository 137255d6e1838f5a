// The gateway exports a device's SPKI only on the auth path: a connection that never sends an auth request costs
// no SPKI export, one that does gets its certificate key matched against the request key.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { afterEach, describe, expect, vi } from 'vitest'
import { gatewayTest as it } from '../support/fixtures.js'
import { authRequest, postAuth, tlsProbe } from '../support/device.js'

/** Counts SPKI exports of any public key in this process (the gateway runs in it) from now on. */
function countSpkiExports (keyPem: string): () => number {
  const proto = Object.getPrototypeOf(createPublicKey(keyPem)) as KeyObject
  const spy = vi.spyOn(proto, 'export')
  return () => spy.mock.calls.filter(([o]) => (o as { type?: string } | undefined)?.type === 'spki').length
}

afterEach(() => { vi.restoreAllMocks() })

describe('SPKI export on the auth path only', () => {
  it('admits and answers a device connection without exporting its SPKI', async ({ gateway: gw, backend: { pki } }) => {
    const dev = pki.devices.ec
    const exports = countSpkiExports(dev.keyPem)
    const r = await tlsProbe(gw.port, { ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem })
    expect(r.response).toMatch(/^HTTP\/1\.1 200/)
    expect(exports()).toBe(0)
  })

  it('exports it for an auth request, which is admitted with the certificate key', async ({
    gateway: gw, backend: { pki }, device
  }) => {
    const dev = pki.devices.ec
    const req = authRequest(dev.keyPem, { mac: '02:00:00:00:00:77' })
    const exports = countSpkiExports(dev.keyPem)
    const answer = await postAuth(device, gw.url, req)
    expect(answer.status).toBe(200)
    expect(exports()).toBeGreaterThan(0)
  })
})
