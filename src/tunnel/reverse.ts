// A reverse tunnel: an mTLS listener whose TLS guard admits only client certificates of its CA that its access rules
// allow (revocation checked on every connection, resumed ones too), each admitted connection carried to a Unix or TCP
// target, optionally behind a PROXY v2 header with the verified identity. Nothing reaches the target before that.
import { createServer, type Server, type TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import { secureContextOptions } from '../tls/trust.js'
import type { TrustService } from '../tls/trust-service.js'
import { renewListenerTickets, setListenerContext } from '../tls/tickets.js'
import { accessRules, matchingRule } from '../tls/access-rules.js'
import { peerOf } from '../tls/peer.js'
import type { TlsGuard } from '../tls/guard.js'
import { dial } from '../net/dial.js'
import { formatAddress } from '../net/address.js'
import { limitConnections } from '../net/connection-limits.js'
import { proxyHeaderFor } from './proxy-header.js'
import type { TunnelConnections } from './connections.js'
import type { TunnelMetrics } from './metrics.js'

type Tunnel = DeepReadonly<TunnelConfig>

export interface ReverseParts {
  t: Tunnel
  log: Logger
  trust: TrustService
  metrics: TunnelMetrics
  connections: TunnelConnections
}

/** The TLS server of a reverse tunnel, guarded and limited; connections are carried as they are admitted. */
export function reverseServer (p: ReverseParts): { server: Server, guard: TlsGuard } {
  const { t, trust, log, metrics } = p
  const initial = secureContextOptions(trust.current(), t.tls_min_version, `tunnel:${t.name}`)
  const server = createServer({
    ...initial,
    requestCert: true,
    // OpenSSL verifies the chain; the guard destroys what it does not admit, with a reason code
    rejectUnauthorized: false,
    handshakeTimeout: t.handshake_timeout,
    allowHalfOpen: true
  })
  renewListenerTickets(server, initial.ticketKeys)
  trust.onChange((next) => {
    setListenerContext(server, secureContextOptions(next, t.tls_min_version, `tunnel:${t.name}`))
  })
  const rules = accessRules(t)
  const labels = { tunnel: t.name }
  const guard = trust.guard(server, {
    log: log.child({ tunnel: t.name }),
    stalePolicy: t.crl_stale_policy,
    onRefused: (reason) => {
      metrics.trust.handshakeFailures.inc({ ...labels, reason })
      metrics.connections.inc({ ...labels, result: 'refused' })
    },
    access: (peer) => matchingRule(peer.cert, rules) === undefined ? `no allow_* rule admits ${peer.subject}` : undefined
  })
  limitConnections(server, {
    maxConnections: t.max_connections,
    maxPerSource: t.max_connections_per_ip,
    onRefused: (r) => p.connections.notCarried('refused', { code: r.reason, remote: r.source }, 'connection refused: too many')
  })
  server.on('secureConnection', (socket: TLSSocket) => { carryToTarget(p, socket) })
  return { server, guard }
}

function carryToTarget (p: ReverseParts, socket: TLSSocket): void {
  const peer = peerOf(socket)
  if (peer === undefined || socket.destroyed) return // the guard refused it
  socket.pause()
  const target = p.t.connect_address
  dial(target, { connectTimeoutMs: p.t.connect_timeout }).then((out) => {
    if (socket.destroyed) {
      out.destroy()
      return
    }
    if (p.t.proxy_protocol) out.write(proxyHeaderFor(socket, peer, out))
    p.connections.carry(socket, out, { remote: socket.remoteAddress, peer })
  }, (err: { code?: string, message?: string }) => {
    socket.destroy()
    const fields = { code: err.code, target: formatAddress(target), remote: socket.remoteAddress, cause: err.message }
    p.connections.notCarried('failed', fields, 'tunnel target unreachable')
  })
}
