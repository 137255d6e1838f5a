// Public types of the certificate tooling: key types, issued material and the options of each issuer.
import type { x509 } from '../../x509/peculiar.js'

/** Device/CA/server key types: RSA (2048 bits unless `rsaBits`), ECDSA P-256 (`ec`) or P-384 (`ec-p384`), Ed25519. */
export type KeyType = 'rsa' | 'ec' | 'ec-p384' | 'ed25519'

/** A certificate with its key, as PEM text. */
export interface Issued {
  /** The certificate alone (PEM). */
  certPem: string
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string
  /** The certificate followed by the intermediates above it, leaf first; self-signed roots are left out. */
  chainPem: string
  /** Serial number: lowercase hex, no separators, no leading zeros (the denylist format). */
  serialHex: string
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`, as in `getPeerCertificate().fingerprint256`). */
  fingerprint256: string
  /** Subject DN as a string (`CN=…`). */
  subject: string
  keyType: KeyType
}

/** A certification authority that can sign: its certificate, key and the issuers above it. */
export interface Ca extends Issued {
  cert: x509.X509Certificate
  privateKey: CryptoKey
  /** Issuers above this CA, nearest first, root last (empty for a root). */
  parents: x509.X509Certificate[]
  /** This CA and every issuer above it, root first: the trust bundle for peers of this CA. */
  bundlePem: string
}

interface Validity {
  notBefore?: Date
  notAfter?: Date
}

interface KeyChoice {
  keyType?: KeyType
  /** RSA modulus length; 2048 by default (3072 and 4096 also work). */
  rsaBits?: number
}

export interface CaOptions extends Validity, KeyChoice {
  cn: string
  /** Full subject DN, overriding `cn` (e.g. `CN=x, O=y`). */
  subject?: string
}

export interface ServerCertOptions extends Validity, KeyChoice {
  cn: string
  subject?: string
  dns?: string[]
  ips?: string[]
}

export interface DeviceCertOptions extends Validity, KeyChoice {
  cn: string
  subject?: string
  dns?: string[]
  ips?: string[]
  uris?: string[]
  emails?: string[]
  /** Certify this existing private key (PEM: PKCS#8, SEC1 or PKCS#1) instead of generating one. */
  keyPem?: string
}

export interface CrlOptions {
  /** Serial numbers in hex (any case, colons allowed). */
  revokedSerials: string[]
  thisUpdate?: Date
  /** Defaults to 30 days after `thisUpdate`. */
  nextUpdate?: Date
  /** CRL number; defaults to the `thisUpdate` time in seconds, so re-issued CRLs count up. */
  crlNumber?: number
}
