// The verified identity of a device connection, parsed once per TLS socket and looked up by every request on it.
import type { TLSSocket } from 'node:tls'
import type { X509Certificate } from 'node:crypto'
import { peerSerial } from '../x509/serial.js'

export interface PeerIdentity {
  /** Subject common name ('' when absent). */
  cn: string
  subject: string
  issuer: string
  /** Serial number, lowercase hex without separators. */
  serial: string
  /** SHA-256 fingerprint, lowercase hex without separators. */
  fingerprint: string
  /** The names the certificate vouches for: CN and every SAN value (DNS, IP, URI, email), as written. */
  names: string[]
  /** The tenant whose CA signed the chain. */
  tenant: string
  /** The certificate; its SPKI DER is read on demand with peerSpki (only the auth path and SPKI pins need it). */
  cert: X509Certificate
}

const identities = new WeakMap<TLSSocket, PeerIdentity>()
const spkis = new WeakMap<X509Certificate, Buffer>()

/** SPKI DER of a certificate's public key, exported on first use and kept for the certificate's lifetime. */
export function spkiOf (cert: X509Certificate): Buffer {
  let der = spkis.get(cert)
  if (der === undefined) {
    der = cert.publicKey.export({ type: 'spki', format: 'der' })
    spkis.set(cert, der)
  }
  return der
}

/** SPKI DER of the peer's certificate key (computed once per connection, on first use). */
export function peerSpki (peer: PeerIdentity): Buffer {
  return spkiOf(peer.cert)
}

export function commonName (dn: string | undefined): string {
  for (const line of (dn ?? '').split('\n')) if (line.startsWith('CN=')) return line.slice(3)
  return ''
}

/**
 * SAN values of a certificate (`DNS:a, IP Address:1.2.3.4` → `a`, `1.2.3.4`); undefined when the certificate has a
 * subjectAltName extension Node cannot decode (Node 20 reports `null`, Node 24 throws ERR_CRYPTO_OPERATION_FAILED).
 */
export function sanValues (cert: X509Certificate): string[] | undefined {
  let san: unknown
  try {
    san = cert.subjectAltName
  } catch {
    return undefined
  }
  if (san === undefined) return []
  if (typeof san !== 'string') return undefined
  return san.split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1)).filter((v) => v !== '')
}

export type PeerReading = { ok: true, peer: PeerIdentity } | { ok: false, detail: string }

/** Reads the identity of a peer certificate; total: anything it cannot read is a refusal reason, never a throw. */
export function readPeer (cert: X509Certificate, tenant = 'default'): PeerReading {
  try {
    const serial = peerSerial(cert.serialNumber)
    if (serial === undefined) {
      return { ok: false, detail: `serial number is not a positive integer: ${String(cert.serialNumber).slice(0, 80)}` }
    }
    const sans = sanValues(cert)
    if (sans === undefined) return { ok: false, detail: 'subjectAltName does not decode' }
    const cn = commonName(cert.subject)
    // the key must be readable (a throw here is a refusal, not a later failure); its SPKI export waits for peerSpki
    if (cert.publicKey.type !== 'public') return { ok: false, detail: 'certificate holds no public key' }
    return {
      ok: true,
      peer: {
        cn,
        names: [...(cn !== '' ? [cn] : []), ...sans],
        subject: (cert.subject ?? '').replaceAll('\n', ', '),
        issuer: (cert.issuer ?? '').replaceAll('\n', ', '),
        serial,
        fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
        tenant,
        cert
      }
    }
  } catch (err) {
    return { ok: false, detail: `certificate does not parse: ${(err as Error).message}` }
  }
}

/** The identity of a certificate known to be well-formed (throws on one that is not; peers go through readPeer). */
export function identityOf (cert: X509Certificate, tenant = 'default'): PeerIdentity {
  const r = readPeer(cert, tenant)
  if (!r.ok) throw new TypeError(r.detail)
  return r.peer
}

/**
 * The TLS socket itself, stored on it: HTTP/2 hands requests a proxy of their connection's socket (`req.socket`), which
 * reads other properties from the socket, so the admitted socket is found behind it.
 */
const SELF = Symbol('mtls.admittedSocket')

export function setPeer (socket: TLSSocket, peer: PeerIdentity): void {
  identities.set(socket, peer)
  Object.defineProperty(socket, SELF, { value: socket, configurable: true })
}

/** The socket behind an HTTP/2 socket proxy (undefined when it is gone or not one). */
function behindProxy (socket: unknown): TLSSocket | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined
  try {
    return (socket as { [SELF]?: TLSSocket })[SELF]
  } catch {
    // the proxy of a stream whose session has ended throws: nothing admitted to find
    return undefined
  }
}

/** The admitted peer of a socket; undefined when the socket was never admitted (fail closed on that). */
export function peerOf (socket: unknown): PeerIdentity | undefined {
  const direct = identities.get(socket as TLSSocket)
  if (direct !== undefined) return direct
  const real = behindProxy(socket)
  return real === undefined ? undefined : identities.get(real)
}

/** Log fields for a peer (never the certificate itself). */
export function peerLog (peer: PeerIdentity | undefined): Record<string, string> | undefined {
  return peer === undefined
    ? undefined
    : { cn: peer.cn, serial: peer.serial, fingerprint: peer.fingerprint, tenant: peer.tenant }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The admitted device of the connection, set by the gateway's first hook. */
    peer: PeerIdentity | undefined
  }
}
