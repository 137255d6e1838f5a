// The `certs` command: usage and exit codes, each command's outputs, overwrite protection, revocation files.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crlSerials, runCertsCli } from '../../src/tools/pki/index.js'

interface Result { code: number, out: string, err: string }

async function certs (...argv: string[]): Promise<Result> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCertsCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const read = async (path: string): Promise<string> => await readFile(path, 'utf8')
const countCerts = (pem: string): number => pem.match(/BEGIN CERTIFICATE/g)?.length ?? 0

let dir: string
let root: string
let inter: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-certs-cli-'))
  root = join(dir, 'root')
  inter = join(dir, 'inter')
  await certs('ca', '--out', root, '--cn', 'cli root')
  await certs('intermediate', '--ca-dir', root, '--out', inter)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('certs usage', () => {
  it('exits 2 without a command', async () => {
    expect((await certs()).code).toBe(2)
  })

  it('prints the usage on --help and exits 0', async () => {
    const r = await certs('--help')
    expect([r.code, r.out.includes('Usage: mtls-ambassador certs')]).toEqual([0, true])
  })

  it('prints a command\'s usage on its --help', async () => {
    expect((await certs('device', '--help')).out).toMatch(/certs device --ca-dir DIR/)
  })

  it('exits 2 on an unknown command', async () => {
    expect((await certs('frobnicate')).code).toBe(2)
  })

  it('exits 2 on an unknown option', async () => {
    expect((await certs('ca', '--out', dir, '--bogus')).code).toBe(2)
  })

  it('exits 2 on an unknown key type', async () => {
    expect((await certs('ca', '--out', join(dir, 'dsa'), '--key-type', 'dsa')).code).toBe(2)
  })

  it('exits 2 when a required option is missing', async () => {
    expect((await certs('device', '--ca-dir', root, '--out', join(dir, 'nocn'))).code).toBe(2)
  })

  it('exits 1 when the CA folder holds no CA', async () => {
    expect((await certs('device', '--ca-dir', dir, '--out', join(dir, 'x'), '--cn', 'x')).code).toBe(1)
  })
})

describe('certs ca and intermediate', () => {
  it('writes the root CA key with mode 0600', async () => {
    expect((await stat(join(root, 'ca.key'))).mode & 0o777).toBe(0o600)
  })

  it('uses the given common name', async () => {
    expect(new X509Certificate(await read(join(root, 'ca.pem'))).subject).toBe('CN=cli root')
  })

  it('writes the intermediate as a bundle with its root', async () => {
    expect(countCerts(await read(join(inter, 'ca.pem')))).toBe(2)
  })

  it('refuses to overwrite an existing CA', async () => {
    expect((await certs('ca', '--out', root)).code).toBe(1)
  })
})

describe('certs server and device', () => {
  it('writes a server certificate with the given SANs', async () => {
    const out = join(dir, 'server')
    await certs('server', '--ca-dir', root, '--out', out, '--dns', 'a.test,b.test', '--ip', '10.0.0.1')
    expect(new X509Certificate(await read(join(out, 'server.crt'))).subjectAltName)
      .toBe('DNS:a.test, DNS:b.test, IP Address:10.0.0.1')
  })

  it('writes a device of the asked key type', async () => {
    const out = join(dir, 'dev-ed')
    await certs('device', '--ca-dir', inter, '--out', out, '--cn', 'dev-ed', '--key-type', 'ed25519')
    expect(createPrivateKey(await read(join(out, 'device.key'))).asymmetricKeyType).toBe('ed25519')
  })

  it('writes an EC P-384 device with --key-type ec-p384', async () => {
    const out = join(dir, 'dev-p384')
    expect((await certs('device', '--ca-dir', inter, '--out', out, '--cn', 'dev-p384', '--key-type', 'ec-p384')).code).toBe(0)
    expect(createPrivateKey(await read(join(out, 'device.key'))).asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
    expect(new X509Certificate(await read(join(out, 'device.crt'))).publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
  })

  it('names ec-p384 in its usage text', async () => {
    expect((await certs('--help')).out).toContain('ec-p384')
  })

  it('writes a device chain file holding the intermediate', async () => {
    const out = join(dir, 'dev-chain')
    await certs('device', '--ca-dir', inter, '--out', out, '--cn', 'dev-chain')
    expect(countCerts(await read(join(out, 'device.crt')))).toBe(2)
  })

  it('adds subject alternative names to a device', async () => {
    const out = join(dir, 'dev-san')
    await certs('device', '--ca-dir', root, '--out', out, '--cn', 'dev-san', '--san-dns', 'dev.test', '--san-uri', 'urn:x')
    expect(new X509Certificate(await read(join(out, 'device.crt'))).subjectAltName).toBe('DNS:dev.test, URI:urn:x')
  })

  it('certifies an existing key without writing a new one', async () => {
    const keyFile = join(dir, 'own.key')
    await writeFile(keyFile, createPrivateKey(await read(join(root, 'ca.key'))).export({ type: 'sec1', format: 'pem' }))
    const out = join(dir, 'dev-own')
    await certs('device', '--ca-dir', root, '--out', out, '--cn', 'own', '--key', keyFile)
    const cert = new X509Certificate(await read(join(out, 'device.crt')))
    expect([cert.publicKey.equals(createPublicKey(await read(keyFile))), existsSync(join(out, 'device.key'))]).toEqual([true, false])
  })

  it('prints the serial and fingerprint of what it issued', async () => {
    const r = await certs('device', '--ca-dir', root, '--out', join(dir, 'dev-print'), '--cn', 'p')
    expect(r.out).toMatch(/serial [0-9a-f]{32}\n {2}sha256 [0-9A-F:]{95}/)
  })

  it('refuses to overwrite a device without --force', async () => {
    const out = join(dir, 'dev-twice')
    await certs('device', '--ca-dir', root, '--out', out, '--cn', 'twice')
    expect((await certs('device', '--ca-dir', root, '--out', out, '--cn', 'twice')).code).toBe(1)
  })

  it('overwrites a device with --force', async () => {
    const out = join(dir, 'dev-forced')
    await certs('device', '--ca-dir', root, '--out', out, '--cn', 'forced')
    expect((await certs('device', '--ca-dir', root, '--out', out, '--cn', 'forced', '--force')).code).toBe(0)
  })

  it('takes the CA as explicit files', async () => {
    const r = await certs('device', '--ca-cert', join(inter, 'ca.pem'), '--ca-key', join(inter, 'ca.key'),
      '--out', join(dir, 'dev-files'), '--cn', 'files')
    expect(r.code).toBe(0)
  })
})

describe('certs demo', () => {
  it('writes the demo PKI, then reports it present', async () => {
    const out = join(dir, 'demo')
    await certs('demo', '--out', out)
    expect((await certs('demo', '--out', out)).out).toMatch(/already present/)
  })
})

describe('certs revoke', () => {
  it('appends the normalised serial to the denylist', async () => {
    const file = join(dir, 'deny-1.txt')
    await certs('revoke', '--serial', 'AB:CD', '--denylist', file)
    expect(await read(file)).toBe('abcd\n')
  })

  it('does not list a serial twice', async () => {
    const file = join(dir, 'deny-2.txt')
    await certs('revoke', '--serial', 'abcd', '--denylist', file)
    await certs('revoke', '--serial', '0xABCD,12', '--denylist', file)
    expect(await read(file)).toBe('abcd\n12\n')
  })

  it('issues a CRL listing the serial', async () => {
    const crl = join(dir, 'crl-1.pem')
    await certs('revoke', '--ca-dir', inter, '--serial', 'beef', '--crl', crl)
    expect(crlSerials(await read(crl))).toEqual(['beef'])
  })

  it('re-issues the CRL with the serials it already listed and the denylist\'s', async () => {
    const crl = join(dir, 'crl-2.pem')
    const deny = join(dir, 'deny-3.txt')
    await writeFile(deny, '# revoked devices\n0a0a\n')
    await certs('revoke', '--ca-dir', inter, '--serial', 'beef', '--crl', crl)
    await certs('revoke', '--ca-dir', inter, '--serial', 'cafe', '--crl', crl, '--denylist', deny)
    expect(crlSerials(await read(crl)).sort()).toEqual(['a0a', 'beef', 'cafe'])
  })

  it('exits 2 without a denylist or CRL file', async () => {
    expect((await certs('revoke', '--serial', 'ab')).code).toBe(2)
  })

  it('exits 2 on a serial that is not hex', async () => {
    expect((await certs('revoke', '--serial', 'nothex', '--denylist', join(dir, 'deny-4.txt'))).code).toBe(2)
  })
})
