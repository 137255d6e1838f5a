// Issuing CAs, TLS server certificates and device certificates (see certificate.ts for defaults).
import { caExtensions, deviceExtensions, keyIdOf, serverExtensions } from './extensions.js'
import { generateKeyPair, importPrivateKeyPem } from './keys.js'
import { chainAbove, DEFAULT_DAYS, isSelfIssued, pemOf, signCertificate, subjectName, toIssued } from './certificate.js'
import type { Ca, CaOptions, DeviceCertOptions, Issued, ServerCertOptions } from './types.js'

/** Root CA (self-signed): CA:true critical, keyCertSign + cRLSign critical, SKI/AKI; EC P-256 unless told. */
export async function createRootCa (o: CaOptions): Promise<Ca> {
  const keys = await generateKeyPair(o.keyType ?? 'ec', o.rsaBits)
  const cert = await signCertificate({
    ...o, name: subjectName(o), keys, days: DEFAULT_DAYS.ca, extensions: await caExtensions(keys.publicKey)
  })
  const issued = await toIssued(cert, keys, [])
  return { ...issued, cert, privateKey: keys.privateKey, parents: [], bundlePem: issued.certPem }
}

/** Intermediate CA signed by `parent`, pathLen 0: it may sign leaves only. */
export async function createIntermediateCa (parent: Ca, o: CaOptions): Promise<Ca> {
  const keys = await generateKeyPair(o.keyType ?? 'ec', o.rsaBits)
  const extensions = await caExtensions(keys.publicKey, await keyIdOf(parent.cert), 0)
  const cert = await signCertificate({
    ...o, name: subjectName(o), keys, issuer: parent, days: DEFAULT_DAYS.ca, extensions
  })
  const issued = await toIssued(cert, keys, chainAbove(parent))
  const parents = [parent.cert, ...parent.parents]
  return { ...issued, cert, privateKey: keys.privateKey, parents, bundlePem: bundleOf([cert, ...parents]) }
}

/** TLS server certificate: serverAuth, SAN DNS + IP; EC P-256 unless told. */
export async function issueServerCert (ca: Ca, o: ServerCertOptions): Promise<Issued> {
  const keys = await generateKeyPair(o.keyType ?? 'ec', o.rsaBits)
  const san = { dns: o.dns, ips: o.ips }
  const extensions = await serverExtensions(keys.publicKey, keys.keyType, await keyIdOf(ca.cert), san)
  const cert = await signCertificate({
    ...o, name: subjectName(o), keys, issuer: ca, days: DEFAULT_DAYS.server, extensions
  })
  return await toIssued(cert, keys, chainAbove(ca))
}

/** Device (TLS client) certificate: clientAuth, CN + optional SANs; a new EC P-256 key unless told or `keyPem`. */
export async function issueDeviceCert (ca: Ca, o: DeviceCertOptions): Promise<Issued> {
  const keys = o.keyPem !== undefined
    ? await importPrivateKeyPem(o.keyPem)
    : await generateKeyPair(o.keyType ?? 'ec', o.rsaBits)
  if (o.keyPem !== undefined && o.keyType !== undefined && o.keyType !== keys.keyType) {
    throw new TypeError(`keyPem is an ${keys.keyType} key, not ${o.keyType}`)
  }
  const extensions = await deviceExtensions(keys.publicKey, await keyIdOf(ca.cert), o)
  const cert = await signCertificate({
    ...o, name: subjectName(o), keys, issuer: ca, days: DEFAULT_DAYS.device, extensions
  })
  return await toIssued(cert, keys, chainAbove(ca))
}

/** Trust bundle, root first: what a peer of the CA puts in its CA file. */
export function bundleOf (certs: Array<Parameters<typeof pemOf>[0]>): string {
  const roots = certs.filter(isSelfIssued)
  const rest = certs.filter((c) => !isSelfIssued(c)).reverse()
  return [...roots, ...rest].map(pemOf).join('')
}
