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

function checkKey (
  pem: string | undefined, cert: X509Certificate | undefined, l: MaterialLabels, path: string, problems: string[]
): void {
  const what = `${l.key} ${path}`
  if (pem === undefined) return
  try {
    const key = createPrivateKey(pem)
    if (cert !== undefined && !cert.checkPrivateKey(key)) problems.push(`${l.key} does not match the ${l.cert}`)
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`)
  }
}

/** How problems name the three files (a listener's by default; a tunnel names them by its config keys). */
export interface MaterialLabels { cert: string, key: string, ca: string }

const LISTENER_LABELS: MaterialLabels = { cert: 'server certificate', key: 'server key', ca: 'tenant CA bundle' }

/** Paths of a node's certificate chain, its key and the CA bundle peers must chain to. */
export interface MaterialPaths { cert: string, key: string, ca: string, labels?: MaterialLabels }

/** Reads cert, key and CA bundle; throws MTLS_ERR_TLS_MATERIAL listing every problem. */
export function loadTlsMaterial (paths: MaterialPaths): TlsMaterial {
  const problems: string[] = []
  const l = paths.labels ?? LISTENER_LABELS
  const cert = read(paths.cert, l.cert, problems)
  const key = read(paths.key, l.key, problems)
  const ca = read(paths.ca, l.ca, problems)
  const serverCert = certsOf(cert, l.cert, paths.cert, problems)[0]
  checkKey(key, serverCert, l, paths.key, problems)
  const caCerts = certsOf(ca, l.ca, paths.ca, problems)
  if (problems.length > 0 || serverCert === undefined || cert === undefined || key === undefined || ca === undefined) {
    throw new StartupErrors.TLS_MATERIAL(problems.join('; '))
  }
  return { cert, key, ca, serverCert, caCerts }
}
