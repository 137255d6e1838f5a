// The TLS guard: OpenSSL verifies every chain against the tenant CA; this module admits or destroys each
// connection right after the handshake (before HTTP sees a byte), resumed sessions included, and logs the reason.
import type { Server } from 'node:tls'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { TlsReasons } from '../errors.js'
import { identityOf, peerLog, setPeer } from './peer.js'

type Reason = typeof TlsReasons[keyof typeof TlsReasons]

const UNKNOWN_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
])

/** Maps OpenSSL's verification error to our reason code. */
export function reasonForVerifyError (code: string): Reason {
  if (code === 'CERT_HAS_EXPIRED') return TlsReasons.CERT_EXPIRED
  if (code === 'CERT_NOT_YET_VALID') return TlsReasons.CERT_NOT_YET_VALID
  if (UNKNOWN_CA.has(code)) return TlsReasons.UNKNOWN_CA
  return TlsReasons.BAD_CHAIN
}

/** Maps a failed handshake (tlsClientError) to our reason code. */
export function reasonForHandshakeError (err: NodeJS.ErrnoException): Reason {
  const code = err.code ?? ''
  if (/PROTOCOL|VERSION/.test(code)) return TlsReasons.PROTOCOL
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return TlsReasons.NO_CERT
  return TlsReasons.HANDSHAKE
}

export interface TlsGuard {
  /** Admitted device connections currently open. */
  openConnections: () => number
}

export interface GuardOptions {
  log: Logger
  /** Called with the reason code of every refused connection or failed handshake. */
  onRefused?: (reason: Reason) => void
}

function admit (socket: TLSSocket, o: GuardOptions): boolean {
  const cert = socket.getPeerX509Certificate()
  const remote = socket.remoteAddress
  if (cert === undefined) {
    o.log.warn({ code: TlsReasons.NO_CERT, remote }, 'tls refused: no client certificate')
    o.onRefused?.(TlsReasons.NO_CERT)
    return false
  }
  const peer = identityOf(cert)
  if (!socket.authorized) {
    const verifyError = String(socket.authorizationError)
    const code = reasonForVerifyError(verifyError)
    o.log.warn({ code, verifyError, remote, device: peerLog(peer), issuer: peer.issuer }, 'tls refused: client certificate not trusted')
    o.onRefused?.(code)
    return false
  }
  setPeer(socket, peer)
  o.log.debug({ remote, device: peerLog(peer), resumed: socket.isSessionReused() }, 'tls admitted')
  return true
}

/** Installs the guard on a TLS (or HTTPS) server; must run before the HTTP layer's own listener. */
export function installTlsGuard (server: Server, o: GuardOptions): TlsGuard {
  const open = new Set<TLSSocket>()
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (!admit(socket, o)) {
      socket.destroy()
      return
    }
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const code = reasonForHandshakeError(err)
    o.log.warn({ code, tlsError: err.code, remote: socket.remoteAddress }, 'tls handshake failed')
    o.onRefused?.(code)
  })
  return { openConnections: () => open.size }
}
