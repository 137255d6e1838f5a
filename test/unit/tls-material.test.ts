// Unit tests of TLS material loading: the happy path, and every problem reported at once.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadTlsMaterial, parseCertBundle } from '../../src/tls/material.js'
import type { CodedError } from '../../src/errors.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let dir: string
let good: { cert: string, key: string, ca: string }

beforeAll(async () => {
  pki = await makeTestPki()
  dir = join(pki.dir, 'material-test')
  mkdirSync(dir)
  good = { cert: pki.server.chainPath, key: pki.server.keyPath, ca: pki.trust.path }
})

afterAll(async () => { await pki.cleanup() })

function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function materialError (config: typeof good): CodedError {
  try {
    loadTlsMaterial(config)
  } catch (err) {
    return err as CodedError
  }
  throw new Error('loadTlsMaterial accepted the material')
}

describe('loadTlsMaterial', () => {
  it('returns the server certificate', () => {
    expect(loadTlsMaterial(good).serverCert.subject).toBe('CN=localhost')
  })

  it('returns every CA of the bundle', () => {
    expect(loadTlsMaterial(good).caCerts).toHaveLength(2)
  })

  it('returns the PEM texts it read', () => {
    const m = loadTlsMaterial(good)
    expect([m.cert, m.key, m.ca]).toEqual([pki.server.chainPem, pki.server.keyPem, pki.trust.pem])
  })

  it('takes the leaf of a chain file as server certificate', () => {
    const chain = file('leaf-then-root.pem', pki.server.certPem + pki.root.certPem)
    expect(loadTlsMaterial({ ...good, cert: chain }).serverCert.subject).toBe('CN=localhost')
  })

  it('fails with MTLS_ERR_TLS_MATERIAL on a key that does not match the certificate', () => {
    expect(materialError({ ...good, key: pki.devices.ec.keyPath }).code).toBe('MTLS_ERR_TLS_MATERIAL')
  })

  it('says the key does not match the certificate', () => {
    expect(materialError({ ...good, key: pki.devices.ec.keyPath }).message).toContain('does not match')
  })

  it('lists all three missing files at once', () => {
    const missing = { cert: join(dir, 'no.crt'), key: join(dir, 'no.key'), ca: join(dir, 'no-ca.pem') }
    const message = materialError(missing).message
    expect(Object.values(missing).filter((p) => message.includes(p))).toEqual(Object.values(missing))
  })

  it('reports an empty CA bundle', () => {
    const empty = file('empty-ca.pem', '')
    expect(materialError({ ...good, ca: empty }).message).toContain(empty)
  })

  it('reports a CA bundle without any certificate', () => {
    const text = file('text-ca.pem', 'just some text\n')
    expect(materialError({ ...good, ca: text }).message).toContain(text)
  })

  it('reports an empty server certificate file', () => {
    const empty = file('empty.crt', '')
    expect(materialError({ ...good, cert: empty }).message).toContain(empty)
  })

  it('reports an empty server key file', () => {
    const empty = file('empty.key', '')
    expect(materialError({ ...good, key: empty }).message).toContain(empty)
  })

  it('reports a malformed certificate block', () => {
    const bad = file('bad.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    expect(materialError({ ...good, cert: bad }).message).toContain(bad)
  })

  it('reports a bad key even when the certificate is missing', () => {
    const key = file('garbage.key', 'garbage')
    const cert = join(dir, 'missing.crt')
    const message = materialError({ ...good, cert, key }).message
    expect([message.includes(cert), message.includes(key)]).toEqual([true, true])
  })

  it('refuses a certificate where the private key belongs', () => {
    const pub = file('cert-as.key', pki.server.certPem)
    expect(materialError({ ...good, key: pub }).code).toBe('MTLS_ERR_TLS_MATERIAL')
  })
})

describe('parseCertBundle', () => {
  it('returns no certificates for text without PEM blocks', () => {
    expect(parseCertBundle('nothing here')).toEqual([])
  })

  it('ignores text between certificates', () => {
    expect(parseCertBundle(`# root\n${pki.root.certPem}\n# intermediate\n${pki.intermediate.certPem}`)).toHaveLength(2)
  })

  it('throws on a malformed block', () => {
    expect(() => parseCertBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow()
  })
})

describe('every PEM block must parse', () => {
  const cut = (pem: string): string => {
    const second = pem.indexOf('-----BEGIN', pem.indexOf('-----END'))
    return pem.slice(0, second + Math.floor((pem.indexOf('-----END', second) - second) / 2))
  }
  const body = (pem: string): string => pem.replace(/-----[^-]+-----/g, '').trim()

  it('refuses a CA bundle cut inside its second certificate, naming the file', () => {
    const path = file('cut-ca.pem', cut(pki.root.certPem + pki.intermediate.certPem))
    const err = materialError({ ...good, ca: path })
    expect([err.code, err.message.includes(path), err.message]).toEqual(['MTLS_ERR_TLS_MATERIAL', true, expect.stringMatching(/BEGIN CERTIFICATE.*without (its )?END/)])
  })

  it('refuses a server chain cut inside its second certificate', () => {
    const path = file('cut-chain.crt', cut(pki.server.certPem + pki.root.certPem))
    expect(materialError({ ...good, cert: path }).message).toContain(path)
  })

  it('refuses an END without its BEGIN', () => {
    const path = file('end-only.pem', pki.root.certPem + '-----END CERTIFICATE-----\n')
    expect(materialError({ ...good, ca: path }).message).toMatch(/END CERTIFICATE.*without (a )?BEGIN/)
  })

  it('refuses a block whose END label differs from its BEGIN label', () => {
    const path = file('mismatch.pem', `-----BEGIN CERTIFICATE-----\n${body(pki.root.certPem)}\n-----END X509 CRL-----\n`)
    expect(materialError({ ...good, ca: path }).message).toContain('X509 CRL')
  })

  it('refuses a body that is not base64', () => {
    const path = file('not-b64.pem', `-----BEGIN CERTIFICATE-----\n${body(pki.root.certPem).replace(/^(.{10})/, '$1*!')}\n-----END CERTIFICATE-----\n`)
    expect(materialError({ ...good, ca: path }).message).toMatch(/base64/)
  })

  it('refuses a BEGIN inside another block (a cut block followed by a whole one)', () => {
    const path = file('cut-then-whole.pem', cut(pki.root.certPem + pki.intermediate.certPem) + '\n' + pki.foreign.certPem)
    expect(materialError({ ...good, ca: path }).message).toContain(path)
  })

  it('refuses a block of another kind in a CA bundle', () => {
    const path = file('with-key.pem', pki.root.certPem + pki.root.keyPem)
    expect(materialError({ ...good, ca: path }).message).toContain('PRIVATE KEY')
  })

  it('refuses a certificate with bytes after its DER', () => {
    const der = Buffer.concat([Buffer.from(body(pki.root.certPem), 'base64'), Buffer.from([0, 0])])
    const path = file('trailing.pem', `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`)
    expect(materialError({ ...good, ca: path }).message).toContain(path)
  })

  it('still accepts comments and text between blocks, and CRLF line ends', () => {
    const path = file('commented.pem', `# root\r\n${pki.root.certPem.replaceAll('\n', '\r\n')}subject=intermediate\n${pki.intermediate.certPem}`)
    expect(loadTlsMaterial({ ...good, ca: path }).caCerts).toHaveLength(2)
  })
})
