// The tunnels' metrics (on the process registry, label `tunnel`): connections by result, bytes each way, and the
// shared TLS and trust metrics under the `mtls_tunnel_` prefix (refused handshakes, reloads, open connections,
// certificate and CRL expiry).
import { Counter, Histogram, type Registry } from 'prom-client'
import { TrustMetrics } from '../observe/trust-metrics.js'

export class TunnelMetrics {
  readonly connections: Counter
  readonly bytes: Counter
  readonly duration: Histogram
  readonly trust: TrustMetrics

  constructor (registry: Registry) {
    const registers = [registry]
    this.connections = new Counter({
      name: 'mtls_tunnel_connections_total',
      help: 'Tunnel connections by result (ok: carried and closed; refused; failed: target or remote unreachable)',
      labelNames: ['tunnel', 'result'],
      registers
    })
    this.bytes = new Counter({
      name: 'mtls_tunnel_bytes_total',
      help: 'Bytes carried, by direction (in: from the accepting side towards the target or remote; out: back)',
      labelNames: ['tunnel', 'direction'],
      registers
    })
    this.duration = new Histogram({
      name: 'mtls_tunnel_connection_duration_seconds',
      help: 'Lifetime of carried tunnel connections',
      labelNames: ['tunnel'],
      buckets: [0.01, 0.1, 1, 10, 60, 600, 3600, 86400],
      registers
    })
    this.trust = new TrustMetrics(registry, { prefix: 'mtls_tunnel', labelNames: ['tunnel'] })
  }
}
