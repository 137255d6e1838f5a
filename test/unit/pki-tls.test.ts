// The PKI's certificates in real mTLS handshakes over Node's TLS: every device key type, intermediate chains, and
// the certificates a gateway must refuse (foreign CA, same-DN fake CA, expired, not yet valid, wrong purpose).
import { once } from 'node:events'
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { issueServerCert, type Issued } from '../../src/tools/pki/index.js'

interface Verdict { authorized: boolean, error: string | undefined }

/** One handshake: the server asks for a certificate and reports what OpenSSL thought of it. */
async function handshake (server: Issued, trust: string, client: { cert: string, key: string }, host = 'localhost'): Promise<Verdict> {
  const srv = tls.createServer({
    key: server.keyPem, cert: server.chainPem, ca: trust, requestCert: true, rejectUnauthorized: false
  })
  srv.on('secureConnection', (socket) => {
    const error = socket.authorizationError
    socket.end(JSON.stringify({ authorized: socket.authorized, error: error === null ? undefined : String(error) }))
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  try {
    const { port } = srv.address() as AddressInfo
    const sock = tls.connect({ port, host: '127.0.0.1', servername: host === '127.0.0.1' ? undefined : host, ca: pki.root.certPem, ...client })
    let data = ''
    sock.on('data', (chunk: Buffer) => { data += chunk.toString() })
    await once(sock, 'end')
    sock.destroy()
    return JSON.parse(data) as Verdict
  } finally {
    srv.close()
  }
}

const asClient = (c: { chainPem: string, keyPem: string }): { cert: string, key: string } =>
  ({ cert: c.chainPem, key: c.keyPem })
const admit = async (c: { chainPem: string, keyPem: string }): Promise<Verdict> =>
  await handshake(pki.server, pki.trust.pem, asClient(c))

let pki: TestPki
beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

describe('mTLS handshakes with the test PKI', () => {
  it('admits an RSA device certificate', async () => {
    expect(await admit(pki.devices.rsa)).toEqual({ authorized: true })
  })

  it('admits an EC P-256 device certificate', async () => {
    expect(await admit(pki.devices.ec)).toEqual({ authorized: true })
  })

  it('admits an Ed25519 device certificate', async () => {
    expect(await admit(pki.devices.ed25519)).toEqual({ authorized: true })
  })

  it('admits a device issued by the intermediate when it sends its chain', async () => {
    expect(await admit(pki.devices.viaIntermediate)).toEqual({ authorized: true })
  })

  it('admits a device issued by the intermediate when the server trusts only the root', async () => {
    const verdict = await handshake(pki.server, pki.root.certPem, asClient(pki.devices.viaIntermediate))
    expect(verdict).toEqual({ authorized: true })
  })

  it('refuses an intermediate-issued leaf sent without its chain when only the root is trusted', async () => {
    const { certPem, keyPem } = pki.devices.viaIntermediate
    const verdict = await handshake(pki.server, pki.root.certPem, { cert: certPem, key: keyPem })
    expect(verdict.error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  })

  it('refuses a device of a foreign CA', async () => {
    expect((await admit(pki.devices.foreign)).error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  })

  it('refuses a device of a fake CA with the root\'s subject DN', async () => {
    expect((await admit(pki.devices.fakeRoot)).error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  })

  it('refuses an expired device certificate', async () => {
    expect((await admit(pki.devices.expired)).error).toBe('CERT_HAS_EXPIRED')
  })

  it('refuses a device certificate that is not valid yet', async () => {
    expect((await admit(pki.devices.notYetValid)).error).toBe('CERT_NOT_YET_VALID')
  })

  it('refuses a server certificate presented as a client certificate', async () => {
    expect((await admit(pki.server)).error).toBe('INVALID_PURPOSE')
  })

  it('is trusted by a client connecting to 127.0.0.1 by IP address', async () => {
    const verdict = await handshake(pki.server, pki.trust.pem, asClient(pki.devices.ec), '127.0.0.1')
    expect(verdict.authorized).toBe(true)
  })

  it('serves with an RSA server certificate', async () => {
    const server = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], keyType: 'rsa' })
    expect(await handshake(server, pki.trust.pem, asClient(pki.devices.ec))).toEqual({ authorized: true })
  })

  it('serves with an Ed25519 server certificate', async () => {
    const server = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], keyType: 'ed25519' })
    expect(await handshake(server, pki.trust.pem, asClient(pki.devices.ec))).toEqual({ authorized: true })
  })
})
