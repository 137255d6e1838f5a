// The admission decision for one device connection, from what OpenSSL verified plus checks OpenSSL skips on resumed
// sessions or cannot do: validity now, the denylist, the issuer's CRL, and the opt-in grace window for expiry.
import type { X509Certificate } from 'node:crypto'
import { TlsReasons } from '../errors.js'
import { checkRevocation, type CrlInfo } from './revocation.js'
import type { TrustSnapshot } from './trust.js'
import type { TenantTrust } from './tenants.js'

type Reason = typeof TlsReasons[keyof typeof TlsReasons]

export interface AdmissionInput {
  cert: X509Certificate
  serial: string
  authorized: boolean
  verifyError: string | null
  /** Intermediates the device sent (full handshakes only). */
  intermediates?: X509Certificate[]
}

export interface AdmissionPolicy {
  snapshot: TrustSnapshot
  stalePolicy: 'keep' | 'refuse'
  /** The tenant whose CA signed the chain (undefined: none did); its grace window applies. */
  tenant: TenantTrust | undefined
  now?: number
}

export type Admission =
  | { ok: true, grace?: 'expired' | 'not_yet_valid', staleCrl?: CrlInfo }
  | { ok: false, reason: Reason, detail: string }

const UNKNOWN_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
])

/**
 * OpenSSL's errors with a reason of their own. Node 20 reports several of them only as UNSPECIFIED (the guard then
 * finds the cause itself, see policy.ts); they are listed for Node versions that name them.
 */
const SPECIFIC = new Map<string, Reason>(Object.entries({
  CERT_HAS_EXPIRED: TlsReasons.CERT_EXPIRED,
  CERT_NOT_YET_VALID: TlsReasons.CERT_NOT_YET_VALID,
  INVALID_PURPOSE: TlsReasons.KEY_USAGE,
  CA_MD_TOO_WEAK: TlsReasons.WEAK_SIGNATURE,
  EE_KEY_TOO_SMALL: TlsReasons.WEAK_KEY,
  CA_KEY_TOO_SMALL: TlsReasons.WEAK_KEY,
  UNHANDLED_CRITICAL_EXTENSION: TlsReasons.CRITICAL_EXTENSION,
  PERMITTED_VIOLATION: TlsReasons.NAME_CONSTRAINTS,
  EXCLUDED_VIOLATION: TlsReasons.NAME_CONSTRAINTS,
  SUBTREE_MINMAX: TlsReasons.NAME_CONSTRAINTS,
  UNSUPPORTED_CONSTRAINT_TYPE: TlsReasons.NAME_CONSTRAINTS,
  UNSUPPORTED_CONSTRAINT_SYNTAX: TlsReasons.NAME_CONSTRAINTS,
  UNSUPPORTED_NAME_SYNTAX: TlsReasons.NAME_CONSTRAINTS
}))

/** Maps OpenSSL's verification error to our reason code. */
export function reasonForVerifyError (code: string): Reason {
  if (UNKNOWN_CA.has(code)) return TlsReasons.UNKNOWN_CA
  return SPECIFIC.get(code) ?? TlsReasons.BAD_CHAIN
}

/** The validity problem of a certificate at `now` ('' when valid). */
function validityError (cert: X509Certificate, now: number): string {
  if (Date.parse(cert.validTo) < now) return 'CERT_HAS_EXPIRED'
  if (Date.parse(cert.validFrom) > now) return 'CERT_NOT_YET_VALID'
  return ''
}

/** Grace applies only to a time problem, within the window of the tenant whose CA signed the chain. */
function graceFor (code: string, input: AdmissionInput, p: AdmissionPolicy, now: number): 'expired' | 'not_yet_valid' | undefined {
  const seconds = p.tenant?.graceSeconds ?? 0
  if (seconds <= 0) return undefined
  const windowMs = seconds * 1000
  if (code === 'CERT_HAS_EXPIRED' && now - Date.parse(input.cert.validTo) <= windowMs) return 'expired'
  if (code === 'CERT_NOT_YET_VALID' && Date.parse(input.cert.validFrom) - now <= windowMs) return 'not_yet_valid'
  return undefined
}

export function decideAdmission (input: AdmissionInput, p: AdmissionPolicy): Admission {
  const now = p.now ?? Date.now()
  // OpenSSL's verdict first; a resumed session carries the verdict of its full handshake, so re-check time here
  const timeError = input.authorized ? validityError(input.cert, now) : ''
  const code = input.authorized ? timeError : String(input.verifyError)
  let grace: 'expired' | 'not_yet_valid' | undefined
  if (code !== '') {
    grace = graceFor(code, input, p, now)
    if (grace === undefined) return { ok: false, reason: reasonForVerifyError(code), detail: code }
  }
  const { snapshot } = p
  const rev = checkRevocation(
    input.cert, input.serial, snapshot.denylist, snapshot.crls, p.stalePolicy, now, input.intermediates
  )
  if (!rev.ok) {
    return rev.reason === 'crl_stale'
      ? { ok: false, reason: TlsReasons.CRL_STALE, detail: rev.crl?.source ?? '' }
      : { ok: false, reason: TlsReasons.REVOKED, detail: rev.reason === 'crl' ? `crl ${rev.crl?.source ?? ''}` : 'denylist' }
  }
  return {
    ok: true,
    ...(grace !== undefined ? { grace } : {}),
    ...(rev.staleCrl !== undefined ? { staleCrl: rev.staleCrl } : {})
  }
}
