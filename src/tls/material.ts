// Loads and checks the TLS material the listener needs: server certificate chain + matching key, and the tenant
// CA bundle. Every problem is reported at once; nothing half-loaded is ever returned.
import { readFileSync } from 'node:fs'
import { createPrivateKey, type X509Certificate } from 'node:crypto'
import { StartupErrors } from '../errors.js'
import { pemCertificates } from '../x509/pem.js'

export interface TlsMaterial {
  cert: string
  key: string
  ca: string
  serverCert: X509Certificate
  caCerts: X509Certificate[]
}

/** Splits a PEM bundle into parsed certificates; throws (naming `source`) unless every block is a whole certificate. */
export function parseCertBundle (pem: string, source = 'PEM text'): X509Certificate[] {
  return pemCertificates(pem, source)
}

function read (path: string, what: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    problems.push(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    return undefined
  }
}

/** Parses a bundle that was read; reports a malformed or certificate-less (e.g. empty) file. */
function certsOf (pem: string | undefined, what: string, path: string, problems: string[]): X509Certificate[] {
  if (pem === undefined) return []
  try {
    const certs = parseCertBundle(pem, path)
    if (certs.length === 0) problems.push(`${what} ${path}: no PEM certificate found`)
    return certs
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`)
    return []
  }
}

function checkKey (pem: string | undefined, cert: X509Certificate | undefined, what: string, problems: string[]): void {
  if (pem === undefined) return
  try {
    const key = createPrivateKey(pem)
    if (cert !== undefined && !cert.checkPrivateKey(key)) problems.push('server key does not match the server certificate')
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`)
  }
}

/** Paths of a node's certificate chain, its key and the CA bundle peers must chain to. */
export interface MaterialPaths { cert: string, key: string, ca: string }

/** Reads cert, key and CA bundle; throws MTLS_ERR_TLS_MATERIAL listing every problem. */
export function loadTlsMaterial (paths: MaterialPaths): TlsMaterial {
  const problems: string[] = []
  const cert = read(paths.cert, 'server certificate', problems)
  const key = read(paths.key, 'server key', problems)
  const ca = read(paths.ca, 'tenant CA bundle', problems)
  const serverCert = certsOf(cert, 'server certificate', paths.cert, problems)[0]
  checkKey(key, serverCert, `server key ${paths.key}`, problems)
  const caCerts = certsOf(ca, 'tenant CA bundle', paths.ca, problems)
  if (problems.length > 0 || serverCert === undefined || cert === undefined || key === undefined || ca === undefined) {
    throw new StartupErrors.TLS_MATERIAL(problems.join('; '))
  }
  return { cert, key, ca, serverCert, caCerts }
}
