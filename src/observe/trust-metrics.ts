// Metrics of TLS listeners and their trust, shared by the modes: refused handshakes, grace admissions, reloads, CRL
// fetches, and gauges read at scrape time (open connections, certificate and CRL expiry, revoked serials). The gateway
// uses the `mtls_` names without extra labels; tunnels use `mtls_tunnel_` names with a `tunnel` label.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { X509Certificate } from 'node:crypto'
import type { TrustSnapshot } from '../tls/trust.js'

type Labels = Record<string, string>

/** What the gauges read of one listener at scrape time. */
export interface TrustView { labels: Labels, trust: TrustSnapshot, openConnections: number }

const secondsLeft = (cert: X509Certificate, now: number): number => Math.round((Date.parse(cert.validTo) - now) / 1000)

export class TrustMetrics {
  readonly handshakeFailures: Counter
  readonly graceAdmissions: Counter
  readonly crlFetches: Counter
  readonly reloads: Counter
  readonly reloadTime: Gauge

  constructor (private readonly registry: Registry, private readonly o: { prefix: string, labelNames: string[] }) {
    const c = (name: string, help: string, labels: string[]): Counter =>
      new Counter({ name: `${o.prefix}_${name}`, help, labelNames: [...o.labelNames, ...labels], registers: [registry] })
    this.handshakeFailures = c('handshake_failures_total', 'Refused TLS connections by reason code', ['reason'])
    this.graceAdmissions = c('grace_admissions_total', 'Connections admitted under the expiry grace window', ['kind'])
    this.crlFetches = c('crl_fetches_total', 'CRL distribution-point fetches by result (ok, failed)', ['result'])
    this.reloads = c('reloads_total', 'Trust reloads by result (ok, failed)', ['result'])
    this.reloadTime = new Gauge({
      name: `${o.prefix}_reload_last_timestamp_seconds`,
      help: 'Time of the last reload by result',
      labelNames: [...o.labelNames, 'result'],
      registers: [registry],
      aggregator: 'max'
    })
  }

  recordReload (labels: Labels, ok: boolean, at: Date): void {
    const result = ok ? 'ok' : 'failed'
    this.reloads.inc({ ...labels, result })
    this.reloadTime.set({ ...labels, result }, at.getTime() / 1000)
  }

  /** Registers the gauges, read from `views()` at every scrape. */
  watch (views: () => TrustView[]): void {
    // across workers (status listener of a cluster): counts add up, expiries take the soonest, sizes the largest
    const gauge = (
      name: string, help: string, labels: string[], collect: (g: Gauge, v: TrustView, now: number) => void,
      aggregator: 'sum' | 'min' | 'max' = 'sum'
    ): void => {
      // eslint-disable-next-line no-new -- a gauge registers itself and reads its sources at scrape time
      new Gauge({
        name: `${this.o.prefix}_${name}`,
        help,
        labelNames: [...this.o.labelNames, ...labels],
        registers: [this.registry],
        aggregator,
        collect () { this.reset(); const now = Date.now(); for (const v of views()) collect(this, v, now) }
      })
    }
    gauge('open_connections', 'Open admitted TLS connections', [], (g, v) => g.set(v.labels, v.openConnections))
    gauge('server_certificate_expiry_seconds', 'Seconds until this node\'s certificate expires', [], (g, v, now) =>
      g.set(v.labels, secondsLeft(v.trust.material.serverCert, now)), 'min')
    gauge('ca_certificate_expiry_seconds', 'Seconds until each trusted CA certificate expires', ['subject'], (g, v, now) => {
      for (const ca of v.trust.material.caCerts) g.set({ ...v.labels, subject: ca.subject.replaceAll('\n', ', ') }, secondsLeft(ca, now))
    }, 'min')
    gauge('crl_next_update_seconds', 'Seconds until each loaded CRL\'s nextUpdate (negative: stale)', ['source'], (g, v, now) => {
      for (const crl of v.trust.crls) {
        if (crl.nextUpdate !== undefined) {
          g.set({ ...v.labels, source: crl.source }, Math.round((crl.nextUpdate.getTime() - now) / 1000))
        }
      }
    }, 'min')
    gauge('revoked_serials', 'Serials refused by the denylist and by the loaded CRLs', ['source'], (g, v) => {
      g.set({ ...v.labels, source: 'denylist' }, v.trust.denylist.size)
      g.set({ ...v.labels, source: 'crl' }, v.trust.crls.reduce((n, c) => n + c.serials.size, 0))
    }, 'max')
  }
}
