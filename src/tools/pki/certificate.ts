// Signing one certificate and packaging it as `Issued`: subject names, default validity, chains and fingerprints.
import { X509Certificate as NodeX509 } from 'node:crypto'
import { x509 } from '../../x509/peculiar.js'
import { exportPkcs8Pem, signingAlgorithm, type KeyPair } from './keys.js'
import { normalizeSerial, randomSerialHex } from '../../x509/serial.js'
import type { Ca, Issued } from './types.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Certificates start one hour in the past so devices with a slightly slow clock accept them. */
const BACKDATE_MS = 60 * 60 * 1000

/** Default lifetimes in days: CAs 10 years, TLS servers 397 days (the browser maximum), devices 10 years. */
export const DEFAULT_DAYS = { ca: 3650, server: 397, device: 3650 } as const

export interface CertificateInput {
  name: x509.Name
  keys: KeyPair
  /** The signing CA; the certificate is self-signed when absent. */
  issuer?: Ca
  notBefore?: Date
  notAfter?: Date
  days: number
  extensions: x509.Extension[]
}

/** Subject DN from a full DN string or a bare common name (which may contain commas). */
export function subjectName (o: { cn: string, subject?: string }): x509.Name {
  return o.subject !== undefined ? new x509.Name(o.subject) : new x509.Name([{ CN: [o.cn] }])
}

/** Validity window: explicit dates win; a default end never outlives the issuing CA. */
function validity (input: CertificateInput): { notBefore: Date, notAfter: Date } {
  const now = Date.now()
  const notBefore = input.notBefore ?? new Date(now - BACKDATE_MS)
  if (input.notAfter !== undefined) return { notBefore, notAfter: input.notAfter }
  const wanted = new Date(notBefore.getTime() + BACKDATE_MS + input.days * DAY_MS)
  const cap = input.issuer?.cert.notAfter
  return { notBefore, notAfter: cap !== undefined && cap < wanted ? cap : wanted }
}

/** Signs a certificate for `input.keys.publicKey` with the issuer's key (or its own key when self-signed). */
export async function signCertificate (input: CertificateInput): Promise<x509.X509Certificate> {
  const { issuer, keys } = input
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: input.name,
    issuer: issuer?.cert.subjectName ?? input.name,
    ...validity(input),
    publicKey: keys.publicKey,
    signingKey: issuer?.privateKey ?? keys.privateKey,
    signingAlgorithm: signingAlgorithm(issuer?.keyType ?? keys.keyType),
    extensions: input.extensions
  })
}

export function isSelfIssued (cert: x509.X509Certificate): boolean {
  return cert.subjectName.toString() === cert.issuerName.toString()
}

export function pemOf (cert: x509.X509Certificate): string {
  return cert.toString('pem') + '\n'
}

/** Certificates a peer must be sent with `cert`: the CA's chain without self-signed roots. */
export function chainAbove (issuer: Ca | undefined): x509.X509Certificate[] {
  if (issuer === undefined) return []
  return [issuer.cert, ...issuer.parents].filter((c) => !isSelfIssued(c))
}

/** Packages a signed certificate, its key and the chain above it. */
export async function toIssued (
  cert: x509.X509Certificate, keys: KeyPair, above: x509.X509Certificate[]
): Promise<Issued> {
  const certPem = pemOf(cert)
  return {
    certPem,
    keyPem: await exportPkcs8Pem(keys.privateKey),
    chainPem: certPem + above.map(pemOf).join(''),
    serialHex: normalizeSerial(cert.serialNumber),
    fingerprint256: new NodeX509(certPem).fingerprint256,
    subject: cert.subject,
    keyType: keys.keyType
  }
}
