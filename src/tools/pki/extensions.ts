// X.509 extension sets of each certificate kind: root/intermediate CA, TLS server, device (TLS client).
import { x509 } from '../../x509/peculiar.js'
import type { KeyType } from './types.js'

const { KeyUsageFlags: KU, ExtendedKeyUsage: EKU } = x509

export interface SanInput {
  dns?: string[]
  ips?: string[]
  uris?: string[]
  emails?: string[]
}

/** Subject and authority key identifiers: SKI from the subject key, AKI = the issuer's SKI. */
async function keyIds (publicKey: CryptoKey, issuerKeyId?: string): Promise<x509.Extension[]> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(publicKey)
  return [ski, new x509.AuthorityKeyIdentifierExtension(issuerKeyId ?? ski.keyId)]
}

/** Key identifier of a certificate (its SKI), used as the AKI of what it signs. */
export async function keyIdOf (cert: x509.X509Certificate): Promise<string> {
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)
  if (ski !== null) return ski.keyId
  const created = await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)
  return created.keyId
}

/** Subject alternative names, or nothing when there are none (an empty SAN extension is invalid). */
function sanExtension (san: SanInput): x509.Extension[] {
  const names: x509.JsonGeneralName[] = [
    ...(san.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(san.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(san.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(san.emails ?? []).map((value) => ({ type: 'email' as const, value }))
  ]
  return names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names)]
}

/** CA: basicConstraints CA:true (critical, pathLen for intermediates), keyCertSign + cRLSign (critical). */
export async function caExtensions (
  publicKey: CryptoKey, issuerKeyId?: string, pathLen?: number
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, true),
    ...await keyIds(publicKey, issuerKeyId)
  ]
}

/** TLS server: serverAuth, SAN DNS/IP, digitalSignature (+ keyEncipherment for RSA key exchange). */
export async function serverExtensions (
  publicKey: CryptoKey, keyType: KeyType, issuerKeyId: string, san: SanInput
): Promise<x509.Extension[]> {
  const usages = keyType === 'rsa' ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([EKU.serverAuth]),
    ...sanExtension(san),
    ...await keyIds(publicKey, issuerKeyId)
  ]
}

/** Device (TLS client): clientAuth, digitalSignature, optional SANs. */
export async function deviceExtensions (
  publicKey: CryptoKey, issuerKeyId: string, san: SanInput
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(KU.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([EKU.clientAuth]),
    ...sanExtension(san),
    ...await keyIds(publicKey, issuerKeyId)
  ]
}
