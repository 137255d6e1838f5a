// Who may connect to a reverse tunnel (fails closed): any certificate of the CA only when told so explicitly,
// otherwise at least one rule must match the verified client certificate — subject CN or OU, SAN DNS name, SAN URI
// (SPIFFE IDs), SAN IP, or the SHA-256 of its public key (SPKI pin). Names are read from the DER, never from text.
import { createHash, type X509Certificate } from 'node:crypto'
import { canonicalIp, subjectAltNames } from '../x509/der.js'
import { spkiOf } from './peer.js'

export interface AccessRules {
  all: boolean
  cn: readonly string[]
  ou: readonly string[]
  dns: readonly string[]
  uri: readonly string[]
  ip: readonly string[]
  /** Lower-case hex SHA-256 of the SPKI DER, without separators. */
  spkiSha256: readonly string[]
}

/** Rules as configured (`allow_*` keys), normalised for comparison. */
export function accessRules (t: {
  allow_all: boolean
  allow_cn: readonly string[]
  allow_ou: readonly string[]
  allow_dns: readonly string[]
  allow_uri: readonly string[]
  allow_ip: readonly string[]
  allow_spki_sha256: readonly string[]
}): AccessRules {
  return {
    all: t.allow_all,
    cn: t.allow_cn,
    ou: t.allow_ou,
    dns: t.allow_dns.map((d) => d.toLowerCase().replace(/\.$/, '')),
    uri: t.allow_uri,
    ip: t.allow_ip.map(canonicalIp),
    spkiSha256: t.allow_spki_sha256.map((p) => p.replaceAll(':', '').toLowerCase())
  }
}

/** Values of one attribute in a multi-line DN as Node writes it (`OU=a\nCN=b`). */
function attribute (dn: string | undefined, name: string): string[] {
  return (dn ?? '').split('\n').filter((l) => l.startsWith(`${name}=`)).map((l) => l.slice(name.length + 1))
}

/** Which rule admits `cert` ('all' or e.g. 'cn'); undefined when none does. Total: never throws. */
export function matchingRule (cert: X509Certificate, rules: AccessRules): string | undefined {
  if (rules.all) return 'all'
  try {
    const subject = cert.subject
    if (attribute(subject, 'CN').some((v) => rules.cn.includes(v))) return 'cn'
    if (attribute(subject, 'OU').some((v) => rules.ou.includes(v))) return 'ou'
    const san = subjectAltNames(cert.raw)
    if (san?.dns.some((d) => rules.dns.includes(d.toLowerCase())) === true) return 'dns'
    if (san?.uri.some((u) => rules.uri.includes(u)) === true) return 'uri'
    if (san?.ip.some((ip) => rules.ip.includes(ip)) === true) return 'ip'
    if (rules.spkiSha256.length > 0) {
      const pin = createHash('sha256').update(spkiOf(cert)).digest('hex')
      if (rules.spkiSha256.includes(pin)) return 'spki'
    }
    return undefined
  } catch {
    return undefined
  }
}
