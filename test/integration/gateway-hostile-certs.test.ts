// Hostile client certificates over real TLS: crafted self-signed certificates (negative, zero-length and huge
// serials, an undecodable subjectAltName, garbage in the subject) are refused with a reason code, counted, and
// neither the in-process gateway nor a gateway process stops serving; a throw inside a socket handler is contained.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:tls'
import { createServer as createTcpServer, connect as tcpConnect } from 'node:net'
import pino from 'pino'
import { request } from 'undici'
import type { TestPki } from '../support/pki.js'
import { LogCapture, TEST_USER, startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { eventually, tlsProbe } from '../support/device.js'
import { runCli, type CliProcess } from '../support/process.js'
import { BROKEN_SAN, craftCert, craftWirePair, nameDer, tlv, type CraftOptions } from '../support/crafted-cert.js'
import { startWireSwap } from '../support/wire-swap.js'
import { installTlsGuard } from '../../src/tls/guard.js'
import { loadTrust } from '../../src/tls/trust.js'
import { gatewayTrustSource } from '../../src/gateway/trust-source.js'
import { limitConnections } from '../../src/gateway/limits.js'

let pki: TestPki
let backend: Backend
let gw: GatewayHandle

beforeAll(async () => {
  ;({ pki } = backend = await openBackend())
  gw = await startGateway({ pki, backendUrl: backend.sim.url })
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
})

interface Hostile {
  label: string
  code: string
  send: (port: number) => Promise<{ response?: string, error?: string }>
}

/** A crafted certificate presented as is. */
const direct = (o: CraftOptions) => async (port: number) => {
  const c = craftCert(o)
  return await tlsProbe(port, { ca: pki.root.certPem, cert: c.chainPem, key: c.keyPem })
}

/** A loadable certificate swapped on the wire (TLS 1.2) for a same-length one no TLS library would send. */
const onTheWire = (honest: CraftOptions, broken: CraftOptions) => async (port: number) => {
  const { sent, wire } = craftWirePair(honest, broken)
  const swap = await startWireSwap(port, sent.der, wire)
  try {
    const r = await tlsProbe(swap.port, { ca: pki.root.certPem, cert: sent.chainPem, key: sent.keyPem, maxVersion: 'TLSv1.2' })
    expect(swap.swapped()).toBe(1)
    return r
  } finally { await swap.close() }
}

const crafted = nameDer(Buffer.from('crafted'))
const HOSTILE: Hostile[] = [
  { label: 'a negative serial', code: 'MTLS_ERR_TLS_BAD_CERT', send: direct({ serial: Buffer.from([0xfb]) }) },
  { label: 'a subjectAltName whose bytes do not decode', code: 'MTLS_ERR_TLS_BAD_CERT', send: direct({ extensions: [BROKEN_SAN] }) },
  { label: 'a huge serial', code: 'MTLS_ERR_TLS_UNKNOWN_CA', send: direct({ serial: Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(300, 0xab)]) }) },
  { label: 'an empty subject', code: 'MTLS_ERR_TLS_UNKNOWN_CA', send: direct({ subject: tlv(0x30) }) },
  { label: 'a line break and a second CN in its subject', code: 'MTLS_ERR_TLS_UNKNOWN_CA', send: direct({ subject: nameDer(Buffer.from('a\nCN=admin')) }) },
  {
    label: 'a zero-length serial (on the wire)',
    code: 'MTLS_ERR_TLS_BAD_CERT',
    send: onTheWire({ serial: Buffer.from([0x01, 0x23]) }, { serial: Buffer.alloc(0), subject: nameDer(Buffer.from('craftedXX')), issuer: crafted })
  },
  {
    label: 'invalid UTF-8 in its subject (on the wire)',
    code: 'MTLS_ERR_TLS_BAD_CERT',
    send: onTheWire({}, { subject: nameDer(Buffer.from([0xff, 0xfe, 0x41, 0x41, 0x41, 0x41, 0x41])) })
  }
]

const healthy = async (statusUrl: string, port: number): Promise<void> => {
  expect((await request(statusUrl + '/healthz')).statusCode).toBe(200)
  const r = await tlsProbe(port, { ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem })
  expect(r.response).toMatch(/^HTTP\/1\.1 200/)
}

describe('crafted self-signed client certificates', () => {
  for (const h of HOSTILE) {
    it(`refuses one with ${h.label} (${h.code}), counts it, and keeps serving`, async () => {
      const before = gw.withCode(h.code).length
      const r = await h.send(gw.port)
      expect(r.response).toBeUndefined()
      expect(await eventually(() => gw.withCode(h.code).length > before)).toBe(true)
      const metrics = await (await request(gw.statusUrl + '/metrics')).body.text()
      expect(metrics).toContain(`mtls_handshake_failures_total{reason="${h.code}"}`)
      await healthy(gw.statusUrl, gw.port)
    })
  }

  it('a gateway process refuses all of them with their codes and keeps serving devices and status', async () => {
    const p: CliProcess = runCli(['serve'], {
      MTLS_LISTEN: '127.0.0.1:0',
      MTLS_STATUS_LISTEN: '127.0.0.1:0',
      MTLS_MENDER_BACKEND: backend.sim.url,
      MTLS_MENDER_USER: TEST_USER.email,
      MTLS_MENDER_PASS: TEST_USER.password,
      MTLS_SERVER_CERT: pki.server.chainPath,
      MTLS_SERVER_KEY: pki.server.keyPath,
      MTLS_TENANT_CA_PEM: pki.trust.path
    })
    try {
      const { url, statusUrl } = await p.waitFor((l) => l.event === 'listening') as { url: string, statusUrl: string }
      const port = Number(new URL(url).port)
      for (const h of HOSTILE) {
        const r = await h.send(port)
        await new Promise((resolve) => setTimeout(resolve, 100))
        expect(p.child.exitCode, `exited after ${h.label}: ${p.stderr()}`).toBeNull()
        expect(r.response, h.label).toBeUndefined()
      }
      const codes = p.lines.map((l) => l.code)
      for (const h of HOSTILE) expect(codes).toContain(h.code)
      await healthy(statusUrl, port)
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
    }
  })
})

describe('a throw inside a TLS socket handler', () => {
  async function listen (server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const a = server.address()
    return typeof a === 'object' && a !== null ? a.port : 0
  }

  it('destroys the socket, logs MTLS_ERR_TLS_INTERNAL and counts it (secureConnection)', async () => {
    const capture = new LogCapture()
    const refused: string[] = []
    const server = createServer({
      cert: pki.server.chainPem,
      key: pki.server.keyPem,
      ca: pki.root.certPem,
      requestCert: true,
      rejectUnauthorized: false
    })
    installTlsGuard(server, {
      log: pino(capture),
      trust: () => { throw new Error('boom') },
      stalePolicy: 'keep',
      onRefused: (r) => refused.push(r)
    })
    server.on('secureConnection', (s) => { if (!s.destroyed) s.end('HTTP/1.1 200 OK\r\n\r\n') })
    try {
      const port = await listen(server)
      const r = await tlsProbe(port, {
        ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem
      })
      expect(r.response).toBeUndefined()
      expect(await eventually(() => refused.includes('MTLS_ERR_TLS_INTERNAL'))).toBe(true)
      expect(capture.records.some((l) => l.code === 'MTLS_ERR_TLS_INTERNAL')).toBe(true)
    } finally { server.close() }
  })

  it('is contained when counting a failed handshake throws (tlsClientError)', async () => {
    const capture = new LogCapture()
    const snapshot = await loadTrust(gatewayTrustSource(gw.config.gateway as NonNullable<typeof gw.config.gateway>))
    const server = createServer({
      cert: pki.server.chainPem, key: pki.server.keyPem, requestCert: true, rejectUnauthorized: false
    })
    installTlsGuard(server, {
      log: pino(capture),
      trust: () => snapshot,
      stalePolicy: 'keep',
      onRefused: (r) => { if (r !== 'MTLS_ERR_TLS_INTERNAL') throw new Error('counter broke') }
    })
    try {
      const port = await listen(server)
      await tlsProbe(port, { ca: pki.root.certPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' })
      expect(await eventually(() => capture.records.some((l) => l.code === 'MTLS_ERR_TLS_INTERNAL'))).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally { server.close() }
  })

  it('is contained in the per-address connection limit (connection)', async () => {
    const capture = new LogCapture()
    const server = createTcpServer(() => {})
    let calls = 0
    limitConnections(server, { max: 0, perIp: 1, log: pino(capture), onRefused: () => { calls++; throw new Error('counter broke') } })
    try {
      const port = await listen(server)
      const first = tcpConnect({ port, host: '127.0.0.1' })
      await new Promise((resolve) => first.once('connect', resolve))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const second = tcpConnect({ port, host: '127.0.0.1' }).resume()
      const closed = await new Promise<boolean>((resolve) => { second.once('close', () => resolve(true)); second.once('error', () => {}) })
      expect(closed).toBe(true)
      expect(calls).toBeGreaterThanOrEqual(1)
      expect(await eventually(() => capture.records.some((l) => l.code === 'MTLS_ERR_TLS_INTERNAL'))).toBe(true)
      first.destroy()
    } finally { server.close() }
  })
})
