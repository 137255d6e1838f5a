// The device certificate policy over real TLS: CA:TRUE leaves, weak keys (RSA below device_rsa_min_bits, curves other
// than P-256/P-384), a keyUsage without digitalSignature, an EKU without clientAuth, SHA-1/MD5 signatures, unknown
// critical extensions and name-constraint violations are refused with their own reason codes and nothing is
// preauthorized; P-384 and Ed25519 devices are admitted and preauthorized.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestCert, TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { authRequest, deviceAgent, eventually, postAuth, tlsProbe } from '../support/device.js'
import { CA_EXT, DEVICE_EXT, opensslCa, opensslCert } from '../support/openssl-certs.js'

let pki: TestPki
let backend: Backend
let gw: GatewayHandle
let strict: GatewayHandle

beforeAll(async () => {
  ;({ pki } = backend = await openBackend())
  ;[gw, strict] = await Promise.all([
    startGateway({ pki, backendUrl: backend.sim.url }),
    startGateway({ pki, backendUrl: backend.sim.url, overrides: { device_rsa_min_bits: 3072 } })
  ])
})

afterAll(async () => {
  await gw?.close()
  await strict?.close()
  await backend?.close()
})

const withCert = (c: TestCert): Record<string, unknown> => ({ ca: pki.root.certPem, cert: c.chainPem, key: c.keyPem })
const without = (prefix: string): string[] => DEVICE_EXT.filter((e) => !e.startsWith(prefix))
let macs = 0
/** A client that agrees to present a SHA-1 or MD5 signed certificate (OpenSSL's own security level refuses it). */
const WEAK_CLIENT = { ciphers: 'DEFAULT:@SECLEVEL=0' }
/** A client that agrees to present an RSA-1024 key, as older device TLS stacks do (Node 24's own refuses to). */
const LEGACY_CLIENT = { ciphers: 'DEFAULT:@SECLEVEL=1' }

/** Refused at the handshake with `code`, and an auth request over the same certificate preauthorizes nothing. */
async function refusedWith (
  g: GatewayHandle, dev: TestCert, code: string, client: Record<string, unknown> = {}
): Promise<void> {
  const before = g.withCode(code).length
  const r = await tlsProbe(g.port, { ...withCert(dev), ...client })
  expect(r.response).toBeUndefined()
  expect(await eventually(() => g.withCode(code).length > before), `no ${code}; logged: ${JSON.stringify(g.logs.filter((l) => l.level === 'warn').at(-1))}`).toBe(true)
  const mac = `02:00:00:00:07:${(++macs).toString(16).padStart(2, '0')}`
  const preauths = backend.sim.counts.preauth
  const agent = deviceAgent(pki, dev, client)
  try {
    await expect(postAuth(agent, g.url, authRequest(dev.keyPem, { mac }))).rejects.toThrow()
  } finally { await agent.close() }
  expect(backend.sim.counts.preauth).toBe(preauths)
  expect(backend.sim.state.deviceByIdentity({ mac })).toBeUndefined()
}

async function admittedAndPreauthorized (dev: TestCert): Promise<void> {
  const r = await tlsProbe(gw.port, withCert(dev))
  expect(r.response).toMatch(/^HTTP\/1\.1 200/)
  const mac = `02:00:00:00:07:${(++macs).toString(16).padStart(2, '0')}`
  const agent = deviceAgent(pki, dev)
  try {
    const res = await postAuth(agent, gw.url, authRequest(dev.keyPem, { mac }))
    expect(res.status, res.text).toBe(200)
  } finally { await agent.close() }
  expect(backend.sim.state.deviceByIdentity({ mac })?.status).toBe('accepted')
}

describe('device certificate policy', () => {
  it('refuses a CA:TRUE certificate used as a device certificate (MTLS_ERR_TLS_CA_LEAF)', async () => {
    const dev = opensslCert(pki, 'ca-leaf', { ext: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign', 'extendedKeyUsage=clientAuth'] })
    await refusedWith(gw, dev, 'MTLS_ERR_TLS_CA_LEAF')
  })

  it('refuses an RSA-1024 device key (MTLS_ERR_TLS_WEAK_KEY)', async () => {
    await refusedWith(gw, opensslCert(pki, 'rsa-1024', { key: 'rsa:1024' }), 'MTLS_ERR_TLS_WEAK_KEY', LEGACY_CLIENT)
  })

  it('admits an RSA-1024 device once device_rsa_min_bits is lowered to 1024', async () => {
    const lenient = await startGateway({ pki, backendUrl: backend.sim.url, overrides: { device_rsa_min_bits: 1024 } })
    try {
      const dev = opensslCert(pki, 'rsa-1024-allowed', { key: 'rsa:1024' })
      const r = await tlsProbe(lenient.port, { ...withCert(dev), ...LEGACY_CLIENT })
      expect(r.response ?? r.error).toMatch(/^HTTP\/1\.1 200/)
    } finally { await lenient.close() }
  })

  it('refuses an RSA key below a raised device_rsa_min_bits (MTLS_ERR_TLS_WEAK_KEY) and admits one at it', async () => {
    await refusedWith(strict, pki.devices.rsa, 'MTLS_ERR_TLS_WEAK_KEY')
    const dev = opensslCert(pki, 'rsa-3072', { key: 'rsa:3072' })
    expect((await tlsProbe(strict.port, withCert(dev))).response).toMatch(/^HTTP\/1\.1 200/)
  })

  it('refuses an EC key on a curve other than P-256 or P-384 (MTLS_ERR_TLS_WEAK_KEY)', async () => {
    await refusedWith(gw, opensslCert(pki, 'ec-p521', { key: 'ec:P-521' }), 'MTLS_ERR_TLS_WEAK_KEY')
  })

  it('refuses a keyUsage without digitalSignature (MTLS_ERR_TLS_KEY_USAGE)', async () => {
    await refusedWith(gw, opensslCert(pki, 'ku-agreement', { ext: [...without('keyUsage'), 'keyUsage=critical,keyAgreement'] }), 'MTLS_ERR_TLS_KEY_USAGE')
  })

  it('refuses an RSA keyUsage of keyEncipherment only (MTLS_ERR_TLS_KEY_USAGE)', async () => {
    const dev = opensslCert(pki, 'ku-encipher', { key: 'rsa:2048', ext: [...without('keyUsage'), 'keyUsage=critical,keyEncipherment'] })
    await refusedWith(gw, dev, 'MTLS_ERR_TLS_KEY_USAGE')
  })

  it('refuses an extendedKeyUsage without clientAuth (MTLS_ERR_TLS_KEY_USAGE)', async () => {
    await refusedWith(gw, opensslCert(pki, 'eku-server', { ext: [...without('extendedKeyUsage'), 'extendedKeyUsage=serverAuth'] }), 'MTLS_ERR_TLS_KEY_USAGE')
  })

  it('refuses a server-only certificate used as a client certificate (MTLS_ERR_TLS_KEY_USAGE)', async () => {
    await refusedWith(gw, pki.server, 'MTLS_ERR_TLS_KEY_USAGE')
  })

  it('refuses a SHA-1 signature (MTLS_ERR_TLS_WEAK_SIGNATURE)', async () => {
    await refusedWith(gw, opensslCert(pki, 'sha1', { md: 'sha1' }), 'MTLS_ERR_TLS_WEAK_SIGNATURE', WEAK_CLIENT)
  })

  it('refuses an MD5 signature (MTLS_ERR_TLS_WEAK_SIGNATURE)', async () => {
    const rsaCa = opensslCert(pki, 'rsa-ca', { key: 'rsa:2048', ext: CA_EXT })
    const dev = opensslCert(pki, 'md5', { key: 'rsa:2048', md: 'md5', issuer: rsaCa, chain: [rsaCa.certPem] })
    await refusedWith(gw, dev, 'MTLS_ERR_TLS_WEAK_SIGNATURE', WEAK_CLIENT)
  })

  it('refuses an unknown critical extension (MTLS_ERR_TLS_CRITICAL_EXTENSION)', async () => {
    await refusedWith(gw, opensslCert(pki, 'critical', { ext: [...DEVICE_EXT, '1.3.6.1.4.1.55555.1=critical,DER:0500'] }), 'MTLS_ERR_TLS_CRITICAL_EXTENSION')
  })

  it('refuses a name outside the permitted subtree of its CA (MTLS_ERR_TLS_NAME_CONSTRAINTS)', async () => {
    const ca = opensslCa(pki, 'nc-permitted', ['nameConstraints=critical,permitted;DNS:.example.com'])
    const dev = opensslCert(pki, 'nc-outside', { issuer: ca, chain: [ca.certPem], ext: [...DEVICE_EXT, 'subjectAltName=DNS:device.evil.org'] })
    await refusedWith(gw, dev, 'MTLS_ERR_TLS_NAME_CONSTRAINTS')
  })

  it('refuses a name in an excluded subtree of its CA (MTLS_ERR_TLS_NAME_CONSTRAINTS)', async () => {
    const ca = opensslCa(pki, 'nc-excluded', ['nameConstraints=critical,excluded;DNS:.evil.org'])
    const dev = opensslCert(pki, 'nc-excluded-leaf', { issuer: ca, chain: [ca.certPem], ext: [...DEVICE_EXT, 'subjectAltName=DNS:device.evil.org'] })
    await refusedWith(gw, dev, 'MTLS_ERR_TLS_NAME_CONSTRAINTS')
  })

  it('admits a name inside the permitted subtree of its CA', async () => {
    const ca = opensslCa(pki, 'nc-permitted-ok', ['nameConstraints=critical,permitted;DNS:.example.com'])
    const dev = opensslCert(pki, 'nc-inside', { issuer: ca, chain: [ca.certPem], ext: [...DEVICE_EXT, 'subjectAltName=DNS:device.example.com'], subject: '/CN=device.example.com' })
    await admittedAndPreauthorized(dev)
  })

  it('admits and preauthorizes an EC P-384 device', async () => {
    await admittedAndPreauthorized(opensslCert(pki, 'ec-p384', { key: 'ec:P-384' }))
  })

  it('admits and preauthorizes an Ed25519 and an RSA-2048 device made with openssl', async () => {
    await admittedAndPreauthorized(opensslCert(pki, 'ed25519-openssl', { key: 'ed25519' }))
    await admittedAndPreauthorized(opensslCert(pki, 'rsa-2048-openssl', { key: 'rsa:2048' }))
  })

  it('keeps admitting an EC P-384 device on a resumed session', async () => {
    const dev = opensslCert(pki, 'ec-p384-resume', { key: 'ec:P-384' })
    const { connect } = await import('node:tls')
    const once = async (
      session?: Buffer
    ): Promise<{ ok: boolean, resumed: boolean, session?: Buffer }> => await new Promise((resolve) => {
      let data = ''
      let ticket: Buffer | undefined
      let resumed = false
      const s = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ...withCert(dev), session })
      s.on('session', (t: Buffer) => { ticket = t })
      s.on('secureConnect', () => { resumed = s.isSessionReused(); s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n') })
      s.on('data', (d: Buffer) => { data += d.toString() })
      s.on('error', () => {})
      s.on('close', () => resolve({ ok: data.startsWith('HTTP/1.1 200'), resumed, session: ticket }))
    })
    const first = await once()
    expect(await once(first.session)).toMatchObject({ ok: true, resumed: true })
  })
})
