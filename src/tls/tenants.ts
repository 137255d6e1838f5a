// Tenants as the TLS layer sees them: each with its CA bundle and server names. Decides which secure context serves
// a server name (a named tenant's context advertises only its own CA) and which tenant a verified chain belongs to.
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { parseCertBundle } from './material.js'
import { peerSerial } from '../x509/serial.js'

export const DEFAULT_TENANT = 'default'

export interface TenantTrust {
  name: string
  caPem: string
  caCerts: X509Certificate[]
  /** Server names (lowercase) that select this tenant's own context; empty = served by the default context. */
  sni: string[]
  graceSeconds: number
}

export interface ContextPlan {
  /** CA bundle of the default context and the tenants it may admit. */
  fallback: { ca: string, tenants: Set<string> }
  /** Server name → the one tenant whose context (and CA) it selects. */
  byName: Map<string, { ca: string, tenant: string }>
}

const names = (list: string[]): string[] => list.map((n) => n.trim().toLowerCase()).filter((n) => n !== '')

/** A CA bundle besides the default one (a tenant of the gateway). */
export interface TenantSource { name: string, ca: string, sni: string[], graceSeconds: number }

/** The default tenant followed by the configured ones; throws listing unreadable bundles. */
export function loadTenants (
  source: { sni: string[], graceSeconds: number, tenants: TenantSource[] },
  defaultCaPem: string, defaultCas: X509Certificate[]
): TenantTrust[] {
  const out: TenantTrust[] = [
    {
      name: DEFAULT_TENANT,
      caPem: defaultCaPem,
      caCerts: defaultCas,
      sni: names(source.sni),
      graceSeconds: source.graceSeconds
    }
  ]
  const problems: string[] = []
  for (const t of source.tenants) {
    try {
      const caPem = readFileSync(t.ca, 'utf8')
      const caCerts = parseCertBundle(caPem, t.ca)
      if (caCerts.length === 0) throw new Error('no PEM certificate found')
      out.push({ name: t.name, caPem, caCerts, sni: names(t.sni), graceSeconds: t.graceSeconds })
    } catch (err) {
      // the scanner's messages start with the file name; others (unreadable file, no certificate) get it here
      const cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message
      problems.push(`tenant ${t.name} CA bundle ${cause.startsWith(t.ca) ? cause : `${t.ca}: ${cause}`}`)
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '))
  return out
}

export function contextPlan (tenants: TenantTrust[]): ContextPlan {
  const unnamed = tenants.filter((t) => t.sni.length === 0)
  const fallbackTenants = unnamed.length > 0 ? unnamed : tenants.filter((t) => t.name === DEFAULT_TENANT)
  const byName = new Map<string, { ca: string, tenant: string }>()
  for (const t of tenants) for (const n of t.sni) byName.set(n, { ca: t.caPem, tenant: t.name })
  return { fallback: { ca: fallbackTenants.map((t) => t.caPem).join('\n'), tenants: new Set(fallbackTenants.map((t) => t.name)) }, byName }
}

/** The tenants a connection may belong to, given the server name it asked for. */
export function allowedTenants (plan: ContextPlan, servername: string | false | undefined): Set<string> {
  const named = typeof servername === 'string' ? plan.byName.get(servername.toLowerCase()) : undefined
  return named !== undefined ? new Set([named.tenant]) : plan.fallback.tenants
}

/** Whether `ca` issued `cert` (name and key id match); false for anything OpenSSL cannot compare. */
const issuedBy = (cert: X509Certificate, ca: X509Certificate): boolean => {
  try {
    return cert.checkIssued(ca)
  } catch {
    return false
  }
}

/** Whether `ca`'s key verifies the signature of `cert`; false (never a throw) for a key it cannot verify with. */
const verifiedBy = (cert: X509Certificate, ca: X509Certificate): boolean => {
  try {
    return cert.verify(ca.publicKey)
  } catch {
    return false
  }
}

const signedBy = (cert: X509Certificate, ca: X509Certificate): boolean => issuedBy(cert, ca) && verifiedBy(cert, ca)

/**
 * The tenant whose CA issued the leaf directly. When OpenSSL verified the leaf on this very connection (`verified`),
 * a single CA matching by issuer name and key id is that CA and no signature check is needed; when several match
 * (look-alike CAs in different tenants), or the session was resumed, or OpenSSL refused it, the signature decides.
 */
export function directTenant (
  leaf: X509Certificate, tenants: TenantTrust[], verified: boolean
): TenantTrust | undefined {
  const candidates = tenants.flatMap((t) => t.caCerts.filter((ca) => issuedBy(leaf, ca)).map((ca) => ({ t, ca })))
  if (verified && candidates.length === 1) return candidates[0]?.t
  return candidates.find((c) => verifiedBy(leaf, c.ca))?.t
}

/** The tenant CAs that issued one of `certs` (by name and key id). */
export function issuersIn (tenants: TenantTrust[], certs: X509Certificate[]): X509Certificate[] {
  return tenants.flatMap((t) => t.caCerts).filter((ca) => certs.some((c) => issuedBy(c, ca)))
}

/** The tenant whose CA signed one of the intermediates the device sent, which in turn signed the leaf. */
export function tenantViaIntermediates (
  leaf: X509Certificate, intermediates: X509Certificate[], tenants: TenantTrust[]
): TenantTrust | undefined {
  const issuers = intermediates.filter((i) => signedBy(leaf, i))
  if (issuers.length === 0) return undefined
  return tenants.find((t) => t.caCerts.some((ca) => issuers.some((i) => signedBy(i, ca))))
}

/**
 * Intermediates a device sent, from `getPeerCertificate(true)` (full handshakes only; on Node 20 it must be read
 * before `getPeerX509Certificate()`, which drops the chain). Undefined when one of them cannot be read: a chain whose
 * serials cannot be checked against the CRLs is refused, never half-checked.
 */
export function peerIntermediates (
  chainTop: { raw?: Buffer, issuerCertificate?: unknown } | undefined
): X509Certificate[] | undefined {
  const out: X509Certificate[] = []
  let cur = chainTop?.issuerCertificate as { raw?: Buffer, issuerCertificate?: unknown } | undefined
  const seen = new Set<string>()
  try {
    while (cur?.raw !== undefined && out.length < 8) {
      const cert = new X509Certificate(cur.raw)
      if (seen.has(cert.fingerprint256)) break
      if (peerSerial(cert.serialNumber) === undefined) return undefined
      seen.add(cert.fingerprint256)
      out.push(cert)
      cur = cur.issuerCertificate as typeof cur
    }
  } catch {
    return undefined
  }
  return out
}
