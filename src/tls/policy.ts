// The device certificate policy, checked after OpenSSL's verdict on every connection (resumed ones too): no CA:TRUE
// leaves, keys of a supported type and size, keyUsage with digitalSignature, EKU with clientAuth, no SHA-1/MD5
// signature; and explanations for chain refusals Node reports only as UNSPECIFIED. Total: never throws.
import type { X509Certificate } from 'node:crypto'
import { TlsReasons } from '../errors.js'
import { TtlCache } from '../lib/ttl-cache.js'
import type { Admission } from './admission.js'
import { certificateExtensions, extendedKeyUsages, keyUsageBit, signatureAlgorithmOid, type Extension } from '../x509/der.js'

type Reason = typeof TlsReasons[keyof typeof TlsReasons]
export type PolicyVerdict = { ok: true } | { ok: false, reason: Reason, detail: string }

export interface DevicePolicy {
  /** Smallest RSA modulus accepted for device keys. */
  rsaMinBits: number
}

export const DEFAULT_DEVICE_POLICY: DevicePolicy = { rsaMinBits: 2048 }

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const NAME_CONSTRAINTS = '2.5.29.30'
const KEY_USAGE = '2.5.29.15'
const EXT_KEY_USAGE = '2.5.29.37'
const CURVES = new Set(['prime256v1', 'secp384r1'])

/** Signature algorithms refused: MD2, MD4, MD5 and SHA-1 with RSA, ECDSA or DSA. */
const WEAK_SIGNATURES = new Map(Object.entries({
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1'
}))

/** Extensions OpenSSL 3 processes; a critical one outside this list makes it refuse the chain. */
const KNOWN_EXTENSIONS = new Set([
  '2.16.840.1.113730.1.1', '2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.32', '2.5.29.31', '2.5.29.37',
  '1.3.6.1.5.5.7.1.7', '1.3.6.1.5.5.7.1.8', '1.3.6.1.5.5.7.48.1.5', '2.5.29.36', '1.3.6.1.5.5.7.1.14', '2.5.29.30',
  '2.5.29.33', '2.5.29.54'
])

const refuse = (reason: Reason, detail: string): PolicyVerdict => ({ ok: false, reason, detail })

/** What the policy reads of a certificate's DER (Node's X509Certificate exposes neither). */
interface Parsed { subject: string, der: Buffer, extensions: Extension[] }

function parsed (cert: X509Certificate): Parsed | undefined {
  const extensions = certificateExtensions(cert.raw)
  return extensions === undefined ? undefined : { subject: subjectOf(cert), der: cert.raw, extensions }
}

function subjectOf (cert: X509Certificate): string {
  try {
    return cert.subject.replaceAll('\n', ', ')
  } catch {
    return '(undecodable subject)'
  }
}

function weakKey (cert: X509Certificate, policy: DevicePolicy): string | undefined {
  const key = cert.publicKey
  const type = key.asymmetricKeyType ?? 'unknown'
  const details = key.asymmetricKeyDetails
  if (type === 'rsa') {
    const bits = details?.modulusLength ?? 0
    return bits < policy.rsaMinBits ? `RSA key of ${bits} bits, below ${policy.rsaMinBits}` : undefined
  }
  if (type === 'ec') {
    const curve = details?.namedCurve ?? 'unknown'
    return CURVES.has(curve) ? undefined : `EC curve ${curve} (P-256 or P-384 only)`
  }
  return type === 'ed25519' ? undefined : `${type} keys are not accepted (RSA, EC P-256/P-384, Ed25519)`
}

function keyUsageProblem (p: Parsed): string | undefined {
  const ku = p.extensions.find((e) => e.oid === KEY_USAGE)
  if (ku !== undefined) {
    const digitalSignature = keyUsageBit(ku.value, 0)
    if (digitalSignature === undefined) return 'keyUsage does not decode'
    if (!digitalSignature) return 'keyUsage without digitalSignature'
  }
  const eku = p.extensions.find((e) => e.oid === EXT_KEY_USAGE)
  if (eku !== undefined) {
    const usages = extendedKeyUsages(eku.value)
    if (usages === undefined) return 'extendedKeyUsage does not decode'
    if (!usages.includes(CLIENT_AUTH)) return 'extendedKeyUsage without clientAuth'
  }
  return undefined
}

/** The weak signature algorithm of a certificate, if it has one. */
export function weakSignatureOf (p: Pick<Parsed, 'der'>): string | undefined {
  return WEAK_SIGNATURES.get(signatureAlgorithmOid(p.der) ?? '')
}

/** The OID of a critical extension OpenSSL does not process, if there is one. */
export function unknownCriticalOf (p: Pick<Parsed, 'extensions'>): string | undefined {
  return p.extensions.find((e) => e.critical && !KNOWN_EXTENSIONS.has(e.oid))?.oid
}

/** The policy verdict on a leaf certificate OpenSSL accepted (cache it per fingerprint: it never changes). */
export function checkDeviceCert (cert: X509Certificate, policy: DevicePolicy): PolicyVerdict {
  try {
    if (cert.ca) return refuse(TlsReasons.CA_LEAF, 'basicConstraints CA:TRUE on a device certificate')
    const key = weakKey(cert, policy)
    if (key !== undefined) return refuse(TlsReasons.WEAK_KEY, key)
    const p = parsed(cert)
    if (p === undefined) return refuse(TlsReasons.BAD_CERT, 'certificate extensions do not parse')
    const usage = keyUsageProblem(p)
    if (usage !== undefined) return refuse(TlsReasons.KEY_USAGE, usage)
    const sig = weakSignatureOf(p)
    if (sig !== undefined) return refuse(TlsReasons.WEAK_SIGNATURE, sig)
    const critical = unknownCriticalOf(p)
    if (critical !== undefined) return refuse(TlsReasons.CRITICAL_EXTENSION, `unknown critical extension ${critical}`)
    return { ok: true }
  } catch (err) {
    return refuse(TlsReasons.BAD_CERT, `certificate does not parse: ${(err as Error).message}`)
  }
}

/**
 * Why OpenSSL refused a chain that Node reports as UNSPECIFIED (CA_MD_TOO_WEAK, UNHANDLED_CRITICAL_EXTENSION, name
 * constraint violations, …), found in the certificates at hand: `chain` is the leaf and the intermediates the device
 * sent, `anchors` the tenant CAs that issued one of them. Undefined when nothing explains it.
 */
export function explainUnspecified (chain: X509Certificate[], anchors: X509Certificate[]): PolicyVerdict | undefined {
  try {
    return explain(chain.map(parsed), anchors)
  } catch {
    return undefined
  }
}

function explain (certs: Array<Parsed | undefined>, anchors: X509Certificate[]): PolicyVerdict | undefined {
  for (const p of certs) {
    const sig = p === undefined ? undefined : weakSignatureOf(p)
    if (sig !== undefined) return refuse(TlsReasons.WEAK_SIGNATURE, `${sig} in the chain (${p?.subject ?? ''})`)
  }
  for (const p of certs) {
    const critical = p === undefined ? undefined : unknownCriticalOf(p)
    if (critical !== undefined) {
      return refuse(TlsReasons.CRITICAL_EXTENSION, `unknown critical extension ${critical} (${p?.subject ?? ''})`)
    }
  }
  const cas = [...certs.slice(1), ...anchors.map(parsed)]
  const constrained = cas.find((p) => p?.extensions.some((e) => e.oid === NAME_CONSTRAINTS) === true)
  if (constrained !== undefined) {
    return refuse(TlsReasons.NAME_CONSTRAINTS, `a name is outside the constraints of ${constrained.subject}`)
  }
  return undefined
}

/**
 * The policy on every connection: refines OpenSSL's UNSPECIFIED refusals, and judges the leaf of every chain OpenSSL
 * accepted (fresh or resumed), with the verdict cached per leaf fingerprint.
 */
export class PolicyGate {
  private readonly cache = new TtlCache<PolicyVerdict>(100_000, 3600_000)

  constructor (private readonly policy: DevicePolicy) {}

  apply (
    verdict: Admission, leaf: X509Certificate, chain: () => X509Certificate[], anchors: () => X509Certificate[]
  ): Admission {
    if (!verdict.ok) {
      if (verdict.detail !== 'UNSPECIFIED') return verdict
      const why = explainUnspecified([leaf, ...chain()], anchors())
      return why === undefined || why.ok ? verdict : { ok: false, reason: why.reason, detail: why.detail }
    }
    let p = this.cache.get(leaf.fingerprint256)
    if (p === undefined) {
      p = checkDeviceCert(leaf, this.policy)
      this.cache.set(leaf.fingerprint256, p)
    }
    return p.ok ? verdict : { ok: false, reason: p.reason, detail: p.detail }
  }
}
