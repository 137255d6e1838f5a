// The TLS guard: OpenSSL verifies every chain against the tenant CA; this module admits or destroys each
// connection right after the handshake (before HTTP sees a byte), resumed sessions included, and logs the reason.
import type { Server, TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { LogCodes, TlsReasons } from '../errors.js'
import { peerLog, readPeer, setPeer, type PeerIdentity } from './peer.js'
import { decideAdmission, reasonForVerifyError, type Admission } from './admission.js'
import { contained } from '../net/contain.js'
import type { TrustSnapshot } from './trust.js'
import type { X509Certificate } from 'node:crypto'
import {
  allowedTenants, DEFAULT_TENANT, directTenant, issuersIn, peerIntermediates, tenantViaIntermediates, type TenantTrust
} from './tenants.js'
import { DEFAULT_DEVICE_POLICY, PolicyGate, type DevicePolicy } from './policy.js'
import { TtlCache } from '../lib/ttl-cache.js'

export { reasonForVerifyError }

type Reason = typeof TlsReasons[keyof typeof TlsReasons]

/** Maps a failed handshake (tlsClientError) to our reason code. */
export function reasonForHandshakeError (err: NodeJS.ErrnoException & { library?: string }): Reason {
  const code = err.code ?? ''
  // OpenSSL could not decode the client's certificate (zero-length serial, invalid UTF-8 in a name, …)
  if (err.library === 'asn1 encoding routines') return TlsReasons.BAD_CERT
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
  /** The trust snapshot in force (denylist, CRLs, CA bundle). */
  trust: () => TrustSnapshot
  stalePolicy: 'keep' | 'refuse'
  /** Called with the reason code of every refused connection or failed handshake. */
  onRefused?: (reason: Reason) => void
  /** Called for every connection admitted under the expiry grace window. */
  onGrace?: (kind: 'expired' | 'not_yet_valid') => void
  /** The device certificate policy (RSA-2048 minimum unless told). */
  policy?: DevicePolicy
  /** A last check of an otherwise admitted peer (a tunnel's access rules): a refusal detail, or undefined. */
  access?: (peer: PeerIdentity) => string | undefined
}

/**
 * Tenant decisions remembered per leaf fingerprint, both cleared when the trust changes. The tenant whose CA issued a
 * leaf directly is a fact of the certificate's bytes and the CA bundles: a resumed session (or a reconnect) of the
 * same leaf skips the issuer search and the signature check. The tenant reached through intermediates is remembered
 * from full handshakes: a resumed session carries none, so a device whose intermediate is not in the bundle is
 * recognised by what its full handshake proved.
 */
class TenantMemo {
  private viaIntermediates = new TtlCache<TenantTrust>(100_000, 3600_000)
  private direct = new TtlCache<TenantTrust>(100_000, 3600_000)
  private digest = ''

  private current (snapshot: TrustSnapshot): void {
    if (snapshot.digest === this.digest) return
    this.viaIntermediates = new TtlCache<TenantTrust>(100_000, 3600_000)
    this.direct = new TtlCache<TenantTrust>(100_000, 3600_000)
    this.digest = snapshot.digest
  }

  /** The tenant whose CA issued the leaf (see directTenant). */
  directOf (leaf: X509Certificate, snapshot: TrustSnapshot, verified: boolean): TenantTrust | undefined {
    this.current(snapshot)
    const known = this.direct.get(leaf.fingerprint256)
    if (known !== undefined) return known
    const found = directTenant(leaf, snapshot.tenants, verified)
    if (found !== undefined) this.direct.set(leaf.fingerprint256, found)
    return found
  }

  of (leaf: X509Certificate, intermediates: X509Certificate[], snapshot: TrustSnapshot): TenantTrust | undefined {
    this.current(snapshot)
    const found = tenantViaIntermediates(leaf, intermediates, snapshot.tenants) ??
      this.viaIntermediates.get(leaf.fingerprint256)
    if (found !== undefined) this.viaIntermediates.set(leaf.fingerprint256, found)
    return found
  }
}

type Refusal = { code: Reason, detail: string }

function refuse (o: GuardOptions, refusal: Refusal, fields: Record<string, unknown>): false {
  o.log.warn({ ...refusal, ...fields }, 'tls refused: client certificate not admitted')
  o.onRefused?.(refusal.code)
  return false
}

/**
 * The refusal of a verdict, a chain no tenant signed, a tenant the server name does not serve, or a peer the access
 * check turns away.
 */
function refusalOf (
  verdict: Admission, tenant: TenantTrust | undefined, snapshot: TrustSnapshot, servername: string | false | undefined,
  access: () => string | undefined
): Refusal | undefined {
  if (!verdict.ok) return { code: verdict.reason, detail: verdict.detail }
  if (tenant === undefined) return { code: TlsReasons.UNKNOWN_CA, detail: 'no tenant CA signed the chain' }
  if (!allowedTenants(snapshot.plan, servername).has(tenant.name)) {
    return { code: TlsReasons.TENANT_MISMATCH, detail: `tenant ${tenant.name} via server name ${String(servername)}` }
  }
  const denied = access()
  return denied === undefined ? undefined : { code: TlsReasons.ACCESS_DENIED, detail: denied }
}

function admit (socket: TLSSocket, o: GuardOptions, tenants: TenantMemo, gate: PolicyGate): boolean {
  const resumed = socket.isSessionReused()
  // Node 20 drops the chain the device sent once getPeerX509Certificate() ran: read it first (full handshakes only)
  const chainTop = resumed ? undefined : socket.getPeerCertificate(true)
  const cert = socket.getPeerX509Certificate()
  const remote = socket.remoteAddress
  if (cert === undefined) {
    o.log.warn({ code: TlsReasons.NO_CERT, remote }, 'tls refused: no client certificate')
    o.onRefused?.(TlsReasons.NO_CERT)
    return false
  }
  // untrusted input: read it totally before anything else looks at it
  const reading = readPeer(cert)
  if (!reading.ok) {
    const device = { fingerprint: cert.fingerprint256 }
    return refuse(o, { code: TlsReasons.BAD_CERT, detail: reading.detail }, { remote, device })
  }
  const snapshot = o.trust()
  const direct = tenants.directOf(cert, snapshot, socket.authorized && !resumed)
  // each intermediate costs a parse: only when the tenant or a CRL check needs them
  const needChain = chainTop !== undefined && (direct === undefined || snapshot.crls.length > 0)
  const intermediates = needChain ? peerIntermediates(chainTop) : []
  if (intermediates === undefined) {
    const detail = 'a certificate of the chain does not parse'
    return refuse(o, { code: TlsReasons.BAD_CERT, detail }, { remote, device: peerLog(reading.peer) })
  }
  const tenant = direct ?? tenants.of(cert, intermediates, snapshot)
  const peer = { ...reading.peer, tenant: tenant?.name ?? DEFAULT_TENANT }
  const chain = (): X509Certificate[] => intermediates.length > 0 ? intermediates : peerIntermediates(chainTop) ?? []
  const verdict = gate.apply(decideAdmission({
    cert,
    serial: peer.serial,
    authorized: socket.authorized,
    verifyError: socket.authorizationError === null ? null : String(socket.authorizationError),
    intermediates
  }, { snapshot, stalePolicy: o.stalePolicy, tenant }
  ), cert, chain, () => issuersIn(snapshot.tenants, [cert, ...chain()]))
  const refusal = refusalOf(verdict, tenant, snapshot, socket.servername ?? undefined, () => o.access?.(peer))
  if (refusal !== undefined) return refuse(o, refusal, { remote, resumed, device: peerLog(peer), issuer: peer.issuer })
  // refusalOf refuses every verdict that is not ok; this only narrows the type
  if (!verdict.ok) return false
  admitted(socket, o, verdict, peer)
  return true
}

function admitted (socket: TLSSocket, o: GuardOptions, verdict: Admission & { ok: true }, peer: PeerIdentity): void {
  const remote = socket.remoteAddress
  const { cert } = peer
  if (verdict.grace !== undefined) {
    o.log.warn({ code: LogCodes.CERT_GRACE, grace: verdict.grace, validTo: cert.validTo, validFrom: cert.validFrom, remote, device: peerLog(peer) }, 'certificate admitted under the grace window')
    o.onGrace?.(verdict.grace)
  }
  if (verdict.staleCrl !== undefined) o.log.warn({ code: LogCodes.CRL_STALE, crl: verdict.staleCrl.source, device: peerLog(peer) }, 'CRL past its nextUpdate still used')
  setPeer(socket, peer)
  o.log.debug({ remote, device: peerLog(peer), resumed: socket.isSessionReused() }, 'tls admitted')
}

/** Installs the guard on a TLS (or HTTPS) server; must run before the HTTP layer's own listener. */
export function installTlsGuard (server: Server, o: GuardOptions): TlsGuard {
  const open = new Set<TLSSocket>()
  const tenants = new TenantMemo()
  const gate = new PolicyGate(o.policy ?? DEFAULT_DEVICE_POLICY)
  // nothing a peer sends may throw out of these handlers: a throw closes that socket and is logged and counted
  server.prependListener('secureConnection', (socket: TLSSocket) => contained(o, 'secureConnection', socket, () => {
    if (!admit(socket, o, tenants, gate)) {
      socket.destroy()
      return
    }
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  }))
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket?: TLSSocket) => contained(o, 'tlsClientError', socket, () => {
    const code = reasonForHandshakeError(err)
    o.log.warn({ code, tlsError: err.code, remote: socket?.remoteAddress }, 'tls handshake failed')
    o.onRefused?.(code)
    // Node leaves the socket open after handshakeTimeout fires (OpenSSL's own errors close it): a stalled handshake
    // would hold its connection (and a slot of the connection cap) for as long as the peer likes
    socket?.destroy()
  }))
  return { openConnections: () => open.size }
}
