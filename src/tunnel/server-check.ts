// How a forward tunnel judges the remote server (fails closed): OpenSSL verifies its chain against the tunnel's CA;
// its certificate must carry the expected name (SAN DNS or IP, as Node's checkServerIdentity reads them) or, when
// server_uri is set, that URI SAN (a SPIFFE ID); and — on every connection, resumed ones included — it must be
// valid now and neither denylisted nor in its issuer's CRL (a resumed session, whose certificate Node does not show
// the client, is judged by the certificate its session was made with).
import type { X509Certificate } from 'node:crypto'
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls'
import type { TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { TrustSnapshot } from '../tls/trust.js'
import { decideAdmission, reasonForVerifyError } from '../tls/admission.js'
import { reasonForHandshakeError } from '../tls/guard.js'
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

/** The server a session was established with: a resumed session shows no certificate, so it is remembered. */
export interface ServerSeen { cert: X509Certificate, intermediates: X509Certificate[] }

/** The server certificate of this connection: from the handshake, or the one the resumed session was made with. */
function serverSeen (socket: TLSSocket, resumedFrom: ServerSeen | undefined): ServerSeen | undefined {
  if (socket.isSessionReused()) return resumedFrom
  // Node 20 drops the chain once getPeerX509Certificate() ran: read it first
  const top = socket.getPeerCertificate(true)
  const cert = socket.getPeerX509Certificate()
  return cert === undefined ? undefined : { cert, intermediates: peerIntermediates(top) ?? [] }
}

/**
 * Why the connected server is not admitted (a refusal), or what was admitted (to remember with the session). A
 * resumed session is judged by the certificate of the session it resumed (`resumedFrom`). Total: never throws.
 */
export function serverRefusal (
  socket: TLSSocket, snapshot: TrustSnapshot, t: Tunnel, resumedFrom?: ServerSeen
): { code: string, detail: string } | { admitted: ServerSeen } {
  try {
    const seen = serverSeen(socket, resumedFrom)
    if (seen === undefined) return { code: TlsReasons.NO_CERT, detail: 'the server presented no certificate' }
    const { cert, intermediates } = seen
    if (t.server_uri !== '' && !hasUri(cert.raw, t.server_uri)) {
      return { code: TlsReasons.SERVER_NAME, detail: `server certificate has no SAN URI ${t.server_uri}` }
    }
    const serial = peerSerial(cert.serialNumber)
    if (serial === undefined) return { code: TlsReasons.BAD_CERT, detail: 'server certificate serial does not parse' }
    const verifyError = socket.authorizationError === null ? null : String(socket.authorizationError)
    const verdict = decideAdmission(
      { cert, serial, authorized: socket.authorized, verifyError, intermediates },
      { snapshot, stalePolicy: t.crl_stale_policy, tenant: snapshot.tenants[0] }
    )
    return verdict.ok ? { admitted: seen } : { code: verdict.reason, detail: verdict.detail }
  } catch (err) {
    return { code: TlsReasons.BAD_CERT, detail: `server certificate does not parse: ${(err as Error).message}` }
  }
}

/**
 * The reason code of a failed attempt to reach the remote (a coded dial error whose cause is the socket's error):
 * ours when the name check refused, the TLS reason of a chain OpenSSL did not verify or of a handshake that failed,
 * else the dial's own (MTLS_ERR_TUNNEL_CONNECT, _TIMEOUT). `cause` is the underlying error's code.
 */
export function remoteFailure (err: unknown): { code: string, cause?: string } {
  const e = err as { code?: string, cause?: NodeJS.ErrnoException & { library?: string } }
  const own = e.code ?? 'MTLS_ERR_TUNNEL_CONNECT'
  const cause = e.cause
  const causeCode = typeof cause?.code === 'string' ? cause.code : undefined
  if (cause === undefined || causeCode === undefined) return { code: own }
  if (causeCode.startsWith('MTLS_ERR_')) return { code: causeCode }
  // a system error of the connection itself (refused, reset, unreachable)
  if (cause.syscall !== undefined) return { code: own, cause: causeCode }
  if (causeCode.startsWith('ERR_SSL_') || cause.library !== undefined) {
    return { code: reasonForHandshakeError(cause), cause: causeCode }
  }
  if (/^[A-Z0-9_]+$/.test(causeCode)) return { code: reasonForVerifyError(causeCode), cause: causeCode }
  return { code: own, cause: causeCode }
}
