// How a forward tunnel judges the remote server (fails closed): OpenSSL verifies its chain against the tunnel's CA;
// its certificate must carry the expected name (SAN DNS or IP, as Node's checkServerIdentity reads them) or, when
// server_uri is set, that URI SAN (a SPIFFE ID); and — on every connection, resumed ones included — it must be
// valid now and neither denylisted nor in its issuer's CRL.
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { TrustSnapshot } from '../tls/trust.js'
import { decideAdmission } from '../tls/admission.js'
import { peerIntermediates } from '../tls/tenants.js'
import { peerSerial } from '../x509/serial.js'
import { subjectAltNames } from '../x509/der.js'
import { TlsReasons } from '../errors.js'

type Tunnel = DeepReadonly<Pick<TunnelConfig, 'server_uri' | 'crl_stale_policy'>>

function nameError (detail: string): Error {
  return Object.assign(new Error(detail), { code: TlsReasons.SERVER_NAME })
}

/** Whether `der` carries `uri` as a SAN URI. */
const hasUri = (der: Buffer | undefined, uri: string): boolean =>
  der !== undefined && subjectAltNames(der)?.uri.includes(uri) === true

/** Node's checkServerIdentity for a forward tunnel: the expected URI SAN, or the expected name. */
export function serverIdentityCheck (
  t: Tunnel, name: string
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    if (t.server_uri !== '') {
      return hasUri(cert.raw, t.server_uri) ? undefined : nameError(`server certificate has no SAN URI ${t.server_uri}`)
    }
    const err = checkServerIdentity(name, cert)
    return err === undefined ? undefined : nameError(err.message)
  }
}

/** The server certificate (and the intermediates it sent) of a full handshake. */
export interface SessionServer { cert: X509Certificate, intermediates: X509Certificate[] }

/**
 * What the server presented in this connection's full handshake (undefined on a resumed one, or when it does not
 * parse). Read through getPeerCertificate only: on the client side Node 20's getPeerX509Certificate yields the
 * certificate once and undefined after that (getPeerCertificate then loses its DER too).
 */
export function sessionServer (socket: TLSSocket): SessionServer | undefined {
  try {
    const top = socket.getPeerCertificate(true)
    if (top?.raw === undefined || top.raw.length === 0) return undefined
    return { cert: new X509Certificate(top.raw), intermediates: peerIntermediates(top) ?? [] }
  } catch {
    return undefined
  }
}

/**
 * Why the connected server is not admitted (undefined when it is). Total: never throws. `server` is what the
 * server presented: this connection's full handshake, or for a resumed session (which carries no certificate on
 * the client side) the full handshake the session came from — checked again now.
 */
export function serverRefusal (
  socket: TLSSocket, snapshot: TrustSnapshot, t: Tunnel, server: SessionServer | undefined
): { code: string, detail: string } | undefined {
  try {
    const cert = server?.cert
    if (cert === undefined) return { code: TlsReasons.NO_CERT, detail: 'the server presented no certificate' }
    if (t.server_uri !== '' && !hasUri(cert.raw, t.server_uri)) {
      return { code: TlsReasons.SERVER_NAME, detail: `server certificate has no SAN URI ${t.server_uri}` }
    }
    const serial = peerSerial(cert.serialNumber)
    if (serial === undefined) return { code: TlsReasons.BAD_CERT, detail: 'server certificate serial does not parse' }
    const intermediates = server?.intermediates ?? []
    const verifyError = socket.authorizationError === null ? null : String(socket.authorizationError)
    const verdict = decideAdmission(
      { cert, serial, authorized: socket.authorized, verifyError, intermediates },
      { snapshot, stalePolicy: t.crl_stale_policy, tenant: snapshot.tenants[0] }
    )
    return verdict.ok ? undefined : { code: verdict.reason, detail: verdict.detail }
  } catch (err) {
    return { code: TlsReasons.BAD_CERT, detail: `server certificate does not parse: ${(err as Error).message}` }
  }
}
