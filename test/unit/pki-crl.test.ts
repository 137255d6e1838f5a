// CRLs issued by the PKI module: format, contents, signature, and their effect on a Node TLS server.
import { once } from 'node:events'
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import { x509 } from '../../src/x509/peculiar.js'
import { createRootCa, crlSerials, issueCrl, issueDeviceCert, issueServerCert, type Ca, type Issued } from '../../src/tools/pki/index.js'

const DAY = 24 * 3600 * 1000
let ca: Ca
let revoked: Issued
let crlPem: string

beforeAll(async () => {
  ca = await createRootCa({ cn: 'crl root' })
  revoked = await issueDeviceCert(ca, { cn: 'revoked' })
  crlPem = await issueCrl(ca, { revokedSerials: [revoked.serialHex] })
})

/** Whether a TLS server trusting `ca` with `crl` loaded authorizes `device`; the OpenSSL error code otherwise. */
async function admitted (device: Issued, crl: string): Promise<string> {
  const server = await issueServerCert(ca, { cn: 'localhost', dns: ['localhost'] })
  const srv = tls.createServer({
    key: server.keyPem, cert: server.certPem, ca: ca.certPem, crl, requestCert: true, rejectUnauthorized: false
  })
  srv.on('secureConnection', (s) => { s.end(s.authorized ? 'ok' : String(s.authorizationError)) })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  try {
    const sock = tls.connect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost', ca: ca.certPem, cert: device.chainPem, key: device.keyPem })
    let data = ''
    sock.on('data', (c: Buffer) => { data += c.toString() })
    await once(sock, 'end')
    sock.destroy()
    return data
  } finally {
    srv.close()
  }
}

describe('issueCrl', () => {
  it('returns PEM with the X509 CRL label', () => {
    expect(crlPem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true)
  })

  it('lists the revoked serial', () => {
    expect(new x509.X509Crl(crlPem).findRevoked(revoked.serialHex)).not.toBeNull()
  })

  it('is signed by the CA', async () => {
    expect(await new x509.X509Crl(crlPem).verify({ publicKey: ca.cert.publicKey })).toBe(true)
  })

  it('names the CA as issuer', () => {
    expect(new x509.X509Crl(crlPem).issuer).toBe(ca.subject)
  })

  it('carries the CA key identifier as authority key identifier', () => {
    const aki = new x509.X509Crl(crlPem).getExtension(x509.AuthorityKeyIdentifierExtension)
    expect(aki?.keyId).toBe(ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId)
  })

  it('is due for renewal 30 days after this update by default', () => {
    const crl = new x509.X509Crl(crlPem)
    expect((crl.nextUpdate?.getTime() ?? 0) - crl.thisUpdate.getTime()).toBe(30 * DAY)
  })

  it('lists each serial once even when given twice in different forms', async () => {
    const pem = await issueCrl(ca, { revokedSerials: ['AB:CD', '0xabcd', '00abcd'] })
    expect(crlSerials(pem)).toEqual(['abcd'])
  })

  it('keeps a serial with its top bit set positive', async () => {
    expect(crlSerials(await issueCrl(ca, { revokedSerials: ['ff01'] }))).toEqual(['ff01'])
  })

  it('issues an empty CRL', async () => {
    expect(crlSerials(await issueCrl(ca, { revokedSerials: [] }))).toEqual([])
  })

  it('is accepted by Node as a secure-context CRL', () => {
    expect(() => tls.createSecureContext({ ca: ca.certPem, crl: crlPem })).not.toThrow()
  })
})

describe('a CRL in a TLS server', () => {
  it('makes the server refuse the revoked device', async () => {
    expect(await admitted(revoked, crlPem)).toBe('CERT_REVOKED')
  })

  it('lets a device it does not list through', async () => {
    const other = await issueDeviceCert(ca, { cn: 'fine' })
    expect(await admitted(other, crlPem)).toBe('ok')
  })
})
