// A forward tunnel: a plain listener (Unix socket, loopback TCP or an inherited socket) whose every connection is
// carried over mTLS to the remote, presenting this node's certificate. The server must chain to the CA, carry the
// expected name (SAN DNS/IP, or the configured SPIFFE URI) and be neither denylisted nor revoked — checked again in
// JavaScript on resumed sessions, which OpenSSL does not verify (against the certificate the session was made with,
// as Node shows none on resumption). Nothing is sent before that.
import { createServer, type Server, type Socket } from 'node:net'
import { connect, createSecureContext, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { TrustService } from '../tls/trust-service.js'
import type { TrustSnapshot } from '../tls/trust.js'
import { awaitConnect, connectOptions } from '../net/dial.js'
import { formatAddress } from '../net/address.js'
import { limitConnections } from '../net/connection-limits.js'
import { remoteFailure, serverRefusal, serverIdentityCheck, type ServerSeen } from './server-check.js'
import type { TunnelConnections } from './connections.js'
import type { TunnelMetrics } from './metrics.js'

type Tunnel = DeepReadonly<TunnelConfig>

export interface ForwardParts {
  t: Tunnel
  log: Logger
  trust: TrustService
  metrics: TunnelMetrics
  connections: TunnelConnections
}

/** A session to resume, with the server it was made with (Node shows no certificate on a resumed session). */
interface Resumable { ticket: Buffer, server: ServerSeen }

/** The client side's TLS state for one trust snapshot: its secure context and the last session to resume. */
interface ClientState { digest: string, context: SecureContext, session: Resumable | undefined }

function clientState (t: Tunnel, snapshot: TrustSnapshot): ClientState {
  const m = snapshot.material
  const context = createSecureContext({ cert: m.cert, key: m.key, ca: m.ca, minVersion: t.tls_min_version === '1.3' ? 'TLSv1.3' : 'TLSv1.2' })
  return { digest: snapshot.digest, context, session: undefined }
}

/** The plain listener of a forward tunnel (paused sockets: nothing is read before the remote is verified). */
export function forwardServer (p: ForwardParts): Server {
  let state = clientState(p.t, p.trust.current())
  // a rotated client certificate or CA is used from the next connection on; open connections keep theirs
  p.trust.onChange((next) => { state = clientState(p.t, next) })
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (local) => {
    carryToRemote(p, local, state).catch(() => { local.destroy() })
  })
  limitConnections(server, {
    maxConnections: p.t.max_connections,
    maxPerSource: p.t.max_connections_per_ip,
    onRefused: (r) => p.connections.notCarried('refused', { code: r.reason, remote: r.source }, 'connection refused: too many')
  })
  return server
}

function tlsOptions (t: Tunnel, state: ClientState): ConnectionOptions {
  const remote = t.connect_address
  const host = remote.kind === 'tcp' ? remote.host : 'localhost'
  const name = t.server_name !== '' ? t.server_name : host
  return {
    ...connectOptions(remote),
    secureContext: state.context,
    // SNI only for names, never for IP addresses (RFC 6066)
    ...(/^[\d.:]+$/.test(name) ? {} : { servername: name }),
    rejectUnauthorized: true,
    checkServerIdentity: serverIdentityCheck(t, name),
    ...(state.session !== undefined ? { session: state.session.ticket } : {})
  }
}

/** Reaches the remote over TLS; undefined (logged, counted, local closed) when it cannot be reached or verified. */
async function reachRemote (p: ForwardParts, local: Socket, remote: TLSSocket): Promise<TLSSocket | undefined> {
  const { t } = p
  // the local client gave up while the remote was being reached: stop reaching it
  const abandon = (): void => { remote.destroy() }
  local.once('close', abandon)
  try {
    const connectTimeoutMs = t.connect_timeout + t.handshake_timeout
    return await awaitConnect(remote, t.connect_address, { connectTimeoutMs, readyEvent: 'secureConnect' })
  } catch (err) {
    local.destroy()
    const failure = remoteFailure(err)
    const fields = { ...failure, remote: formatAddress(t.connect_address), detail: (err as Error).message }
    p.metrics.trust.handshakeFailures.inc({ tunnel: t.name, reason: failure.code })
    p.connections.notCarried('failed', fields, 'remote unreachable or not trusted')
    return undefined
  } finally {
    local.off('close', abandon)
  }
}

async function carryToRemote (p: ForwardParts, local: Socket, state: ClientState): Promise<void> {
  const { t } = p
  const offered = state.session
  const remote = connect(tlsOptions(t, state))
  // tickets are kept only for a server admitted below, together with what was admitted
  const got: { ticket?: Buffer, server?: ServerSeen } = {}
  const keep = (): void => {
    if (got.ticket !== undefined && got.server !== undefined) state.session = { ticket: got.ticket, server: got.server }
  }
  remote.on('session', (ticket: Buffer) => { got.ticket = ticket; keep() })
  if (await reachRemote(p, local, remote) === undefined) return
  const verdict = serverRefusal(remote, p.trust.current(), t, offered?.server)
  if (!('admitted' in verdict)) {
    state.session = undefined
    remote.destroy()
    local.destroy()
    p.metrics.trust.handshakeFailures.inc({ tunnel: t.name, reason: verdict.code })
    p.connections.notCarried('refused', { ...verdict, remote: formatAddress(t.connect_address) }, 'remote server not admitted')
    return
  }
  got.server = verdict.admitted
  keep()
  if (local.destroyed) {
    remote.destroy()
    return
  }
  p.connections.carry(local, remote, { remote: local.remoteAddress ?? 'local' })
}
