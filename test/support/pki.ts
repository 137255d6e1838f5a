// Test PKI generated per run into a temporary folder: root + intermediate CA, a server certificate, devices of every
// key type, a foreign CA, a fake CA with the root's exact subject DN, expired and not-yet-valid devices, CRLs.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createIntermediateCa, createRootCa, issueCrl, issueDeviceCert, issueServerCert,
  type Ca, type CrlOptions, type DeviceCertOptions, type Issued, type KeyType
} from '../../src/tools/pki/index.js'

/** An issued certificate with its files: `certPath` (leaf), `chainPath` (leaf + intermediates), `keyPath`. */
export interface TestCert extends Issued { name: string, certPath: string, keyPath: string, chainPath: string }
/** A CA with its files; `bundlePath` holds the CA and its issuers (root first). */
export interface TestCa extends Ca { name: string, certPath: string, keyPath: string, bundlePath: string }
export type IssuerName = 'root' | 'intermediate' | 'foreign' | 'fakeRoot'
export interface TestDeviceOptions extends Omit<DeviceCertOptions, 'cn' | 'keyType'> { cn?: string, issuer?: IssuerName | Ca }

export interface TestPki {
  dir: string
  root: TestCa
  /** Signed by the root, pathLen 0. */
  intermediate: TestCa
  /** An unrelated root CA. */
  foreign: TestCa
  /** Another key under the real root's exact subject DN. */
  fakeRoot: TestCa
  /** Root + intermediate: the CA bundle a gateway trusts devices with. */
  trust: { pem: string, path: string }
  /** Signed by the root for DNS:localhost, IP:127.0.0.1, IP:::1 (EC). */
  server: TestCert
  devices: {
    rsa: TestCert
    ec: TestCert
    ed25519: TestCert
    /** Issued by the intermediate (EC); its chain file holds the intermediate. */
    viaIntermediate: TestCert
    foreign: TestCert
    fakeRoot: TestCert
    /** Root-issued, valid until yesterday. */
    expired: TestCert
    /** Root-issued, valid from tomorrow. */
    notYetValid: TestCert
  }
  /** Issues another device (root-issued, EC unless told) into `<dir>/devices/<name>/`. */
  device: (name: string, keyType?: KeyType, opts?: TestDeviceOptions) => Promise<TestCert>
  /** Issues a CRL by `issuer` (root unless told) into `<dir>/crl/<name>.pem`. */
  crl: (name: string, serials: string[], opts?: Omit<CrlOptions, 'revokedSerials'> & { issuer?: IssuerName | Ca }) =>
  Promise<{ pem: string, path: string }>
  /** Removes the folder when makeTestPki created it. */
  cleanup: () => Promise<void>
}

const DAY = 24 * 3600 * 1000

async function save (dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true })
  await Promise.all(Object.entries(files).map(async ([name, text]) => {
    await writeFile(join(dir, name), text, { mode: name.endsWith('.key') || name === 'key.pem' ? 0o600 : 0o644 })
  }))
}

async function saveCa (root: string, name: string, ca: Ca): Promise<TestCa> {
  const dir = join(root, 'ca', name)
  await save(dir, { 'ca.pem': ca.certPem, 'ca.key': ca.keyPem, 'bundle.pem': ca.bundlePem })
  return { ...ca, name, certPath: join(dir, 'ca.pem'), keyPath: join(dir, 'ca.key'), bundlePath: join(dir, 'bundle.pem') }
}

async function saveCert (dir: string, name: string, issued: Issued): Promise<TestCert> {
  await save(dir, { 'cert.pem': issued.certPem, 'key.pem': issued.keyPem, 'chain.pem': issued.chainPem })
  return { ...issued, name, certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem'), chainPath: join(dir, 'chain.pem') }
}

async function makeCas (dir: string): Promise<Pick<TestPki, 'root' | 'intermediate' | 'foreign' | 'fakeRoot'>> {
  const root = await createRootCa({ cn: 'mtls-ambassador test root CA', subject: 'CN=mtls-ambassador test root CA, O=test' })
  const [intermediate, foreign, fakeRoot] = await Promise.all([
    createIntermediateCa(root, { cn: 'mtls-ambassador test intermediate CA' }),
    createRootCa({ cn: 'foreign test CA' }),
    createRootCa({ cn: 'fake', subject: root.subject })
  ])
  return {
    root: await saveCa(dir, 'root', root),
    intermediate: await saveCa(dir, 'intermediate', intermediate),
    foreign: await saveCa(dir, 'foreign', foreign),
    fakeRoot: await saveCa(dir, 'fake-root', fakeRoot)
  }
}

/** Generates a fresh test PKI into `dir` (a new temporary folder by default). Nothing is cached across runs. */
export async function makeTestPki (dir?: string): Promise<TestPki> {
  const root = dir ?? await mkdtemp(join(tmpdir(), 'mtls-pki-'))
  await mkdir(root, { recursive: true })
  const cas = await makeCas(root)
  const issuerOf = (issuer: IssuerName | Ca = 'root'): Ca => typeof issuer === 'string' ? cas[issuer] : issuer
  const device = async (name: string, keyType: KeyType = 'ec', opts: TestDeviceOptions = {}): Promise<TestCert> => {
    const { issuer, ...rest } = opts
    const cert = await issueDeviceCert(issuerOf(issuer), { cn: name, keyType, ...rest })
    return await saveCert(join(root, 'devices', name), name, cert)
  }
  const crl: TestPki['crl'] = async (name, serials, opts = {}) => {
    const { issuer, ...rest } = opts
    const pem = await issueCrl(issuerOf(issuer), { revokedSerials: serials, ...rest })
    const path = join(root, 'crl', `${name}.pem`)
    await save(join(root, 'crl'), { [`${name}.pem`]: pem })
    return { pem, path }
  }
  const now = Date.now()
  const [server, rsa, ec, ed25519, viaIntermediate, foreign, fakeRoot, expired, notYetValid] = await Promise.all([
    issueServerCert(cas.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1', '::1'] })
      .then(async (s) => await saveCert(join(root, 'server'), 'server', s)),
    device('rsa', 'rsa'),
    device('ec', 'ec'),
    device('ed25519', 'ed25519'),
    device('via-intermediate', 'ec', { issuer: 'intermediate' }),
    device('foreign', 'ec', { issuer: 'foreign' }),
    device('fake-root', 'ec', { issuer: 'fakeRoot' }),
    device('expired', 'ec', { notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) }),
    device('not-yet-valid', 'ec', { notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) })
  ])
  const trust = { pem: cas.intermediate.bundlePem, path: cas.intermediate.bundlePath }
  const devices = { rsa, ec, ed25519, viaIntermediate, foreign, fakeRoot, expired, notYetValid }
  const cleanup = async (): Promise<void> => { if (dir === undefined) await rm(root, { recursive: true, force: true }) }
  return { dir: root, ...cas, trust, server, devices, device, crl, cleanup }
}
