// Loading a CA from PEM text (a bundle of certificates and the CA's key) so more certificates can be issued from it.
import { x509 } from '../../x509/peculiar.js'
import { importPrivateKeyPem, spkiBytes } from './keys.js'
import { isSelfIssued, toIssued } from './certificate.js'
import { bundleOf } from './issue.js'
import type { Ca } from './types.js'

function parseBundle (certPem: string): x509.X509Certificate[] {
  const blocks = x509.PemConverter.decodeWithHeaders(certPem).filter((b) => b.type === 'CERTIFICATE')
  if (blocks.length === 0) throw new TypeError('no certificate in CA file')
  return blocks.map((b) => new x509.X509Certificate(b.rawData))
}

/** The certificate in `bundle` that `cert` was signed by (matching name and verifying signature), if any. */
async function issuerIn (
  cert: x509.X509Certificate, bundle: x509.X509Certificate[]
): Promise<x509.X509Certificate | undefined> {
  for (const candidate of bundle) {
    if (candidate === cert || candidate.subject !== cert.issuer) continue
    if (await cert.verify({ publicKey: candidate.publicKey, signatureOnly: true })) return candidate
  }
  return undefined
}

/** Issuers above `cert` found in the bundle, nearest first. */
async function parentsOf (cert: x509.X509Certificate, bundle: x509.X509Certificate[]): Promise<x509.X509Certificate[]> {
  const parents: x509.X509Certificate[] = []
  let current = cert
  while (current.subject !== current.issuer && parents.length < bundle.length) {
    const next = await issuerIn(current, bundle)
    if (next === undefined) break
    parents.push(next)
    current = next
  }
  return parents
}

/**
 * Loads a CA from its certificate file (the CA alone, or a bundle holding it and its issuers in any order) and its
 * private key (any PEM format). The CA is the bundle certificate whose public key matches the key.
 */
export async function loadCa (certPem: string, keyPem: string): Promise<Ca> {
  const bundle = parseBundle(certPem)
  const keys = await importPrivateKeyPem(keyPem)
  const spki = await spkiBytes(keys.publicKey)
  const cert = bundle.find((c) => Buffer.from(c.publicKey.rawData).equals(spki))
  if (cert === undefined) throw new TypeError('the CA key matches no certificate in the CA file')
  const constraints = cert.getExtension(x509.BasicConstraintsExtension)
  if (constraints?.ca !== true) throw new TypeError(`not a CA certificate: ${cert.subject}`)
  const parents = await parentsOf(cert, bundle)
  const issued = await toIssued(cert, keys, parents.filter((c) => !isSelfIssued(c)))
  return { ...issued, cert, privateKey: keys.privateKey, parents, bundlePem: bundleOf([cert, ...parents]) }
}
