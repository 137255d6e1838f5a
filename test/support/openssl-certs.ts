// Device certificates with properties the PKI tooling refuses to produce (weak keys, SHA-1/MD5, CA:TRUE leaves,
// odd key usages, unknown critical extensions, name-constrained CAs), made with the openssl command line.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomSerialHex } from '../../src/x509/serial.js'
import type { TestCert, TestPki } from './pki.js'

/** `rsa:BITS`, `ec:CURVE` (P-256, P-384, P-521, secp256k1…) or `ed25519`. */
export type OpensslKey = `rsa:${number}` | `ec:${string}` | 'ed25519'

export interface OpensslCertOptions {
  /** Signing CA (certificate + key files); the test root unless told. */
  issuer?: { certPath: string, keyPath: string, certPem: string }
  key?: OpensslKey
  /** Digest of the issuer's signature. */
  md?: 'sha256' | 'sha384' | 'sha1' | 'md5'
  /** Extension lines (openssl config syntax) replacing the device defaults. */
  ext?: string[]
  subject?: string
  /** PEM certificates the device sends after its own (intermediates). */
  chain?: string[]
}

/** What a well-formed device certificate carries (same as the PKI tooling's). */
export const DEVICE_EXT = [
  'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth',
  'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'
]

/** Extensions of an intermediate CA signing devices. */
export const CA_EXT = [
  'basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'
]

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

function genKey (path: string, key: OpensslKey): void {
  const [alg, param] = key.split(':')
  if (alg === 'rsa') openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${param ?? '2048'}`, '-out', path)
  else if (alg === 'ec') openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${param ?? 'P-256'}`, '-out', path)
  else openssl('genpkey', '-algorithm', 'ED25519', '-out', path)
}

/** Issues a certificate with openssl into `<pki.dir>/openssl/<name>/` (cert.pem, key.pem, chain.pem). */
export function opensslCert (pki: TestPki, name: string, o: OpensslCertOptions = {}): TestCert {
  const dir = join(pki.dir, 'openssl', name)
  mkdirSync(dir, { recursive: true })
  const issuer = o.issuer ?? pki.root
  const [keyPath, csr, certPath, extFile, chainPath] = ['key.pem', 'req.csr', 'cert.pem', 'ext.cnf', 'chain.pem'].map((f) => join(dir, f)) as [string, string, string, string, string]
  genKey(keyPath, o.key ?? 'ec:P-256')
  openssl('req', '-new', '-key', keyPath, '-subj', o.subject ?? `/CN=${name}`, '-out', csr)
  writeFileSync(extFile, `[v3]\n${(o.ext ?? DEVICE_EXT).join('\n')}\n`)
  openssl('x509', '-req', '-in', csr, '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-set_serial', `0x${randomSerialHex()}`,
    '-days', '30', `-${o.md ?? 'sha256'}`, '-extfile', extFile, '-extensions', 'v3', '-out', certPath)
  const certPem = readFileSync(certPath, 'utf8')
  const chainPem = certPem + (o.chain ?? []).join('')
  writeFileSync(chainPath, chainPem)
  const x = new X509Certificate(certPem)
  return {
    name,
    certPem,
    keyPem: readFileSync(keyPath, 'utf8'),
    chainPem,
    serialHex: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    fingerprint256: x.fingerprint256,
    subject: x.subject,
    keyType: o.key?.startsWith('rsa') === true ? 'rsa' : o.key === 'ed25519' ? 'ed25519' : 'ec',
    certPath,
    keyPath,
    chainPath
  }
}

/** An intermediate CA made with openssl (e.g. with name constraints), signed by the test root unless told. */
export function opensslCa (pki: TestPki, name: string, ext: string[], issuer?: OpensslCertOptions['issuer']): TestCert {
  return opensslCert(pki, name, { ext: [...CA_EXT, ...ext], ...(issuer === undefined ? {} : { issuer }) })
}
