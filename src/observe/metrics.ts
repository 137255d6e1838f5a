// Prometheus metrics (prom-client), one registry per gateway, served by the status listener at /metrics.
// Every metric is listed in the README's metrics table (tested).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { X509Certificate } from 'node:crypto'
import type { TrustSnapshot } from '../tls/trust.js'

export interface MetricsSources {
  openConnections: () => number
  openWebsockets: () => number
  trust: () => TrustSnapshot | undefined
}

const secondsLeft = (cert: X509Certificate): number => Math.round((Date.parse(cert.validTo) - Date.now()) / 1000)

export class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'mtls_requests_total', help: 'HTTP requests answered, by route group, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] })
  readonly duration = new Histogram({ name: 'mtls_request_duration_seconds', help: 'Request latency by route group', labelNames: ['route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] })
  readonly handshakeFailures = new Counter({ name: 'mtls_handshake_failures_total', help: 'Refused TLS connections by reason code', labelNames: ['reason'], registers: [this.registry] })
  readonly authDecisions = new Counter({ name: 'mtls_auth_decisions_total', help: 'Auth request decisions (created, forced, conflict, cached, refused) with the refusal code', labelNames: ['decision', 'reason'], registers: [this.registry] })
  readonly managementLogins = new Counter({ name: 'mtls_management_logins_total', help: 'Management API logins by result (login, refresh, failed)', labelNames: ['result'], registers: [this.registry] })
  readonly upstreamErrors = new Counter({ name: 'mtls_upstream_errors_total', help: 'Failures talking to Mender by error code', labelNames: ['kind'], registers: [this.registry] })
  readonly graceAdmissions = new Counter({ name: 'mtls_grace_admissions_total', help: 'Connections admitted under the expiry grace window', labelNames: ['kind'], registers: [this.registry] })
  readonly crlFetches = new Counter({ name: 'mtls_crl_fetches_total', help: 'CRL distribution-point fetches by result (ok, failed)', labelNames: ['result'], registers: [this.registry] })
  readonly reloads = new Counter({ name: 'mtls_reloads_total', help: 'Trust reloads by result (ok, failed)', labelNames: ['result'], registers: [this.registry] })
  readonly reloadTime = new Gauge({ name: 'mtls_reload_last_timestamp_seconds', help: 'Time of the last reload by result', labelNames: ['result'], registers: [this.registry] })
  readonly managementUp = new Gauge({ name: 'mtls_management_up', help: 'Whether the tenant holds a management API token (1) or its login is pending or failing (0)', labelNames: ['tenant'], registers: [this.registry] })

  recordReload (ok: boolean, at: Date): void {
    const result = ok ? 'ok' : 'failed'
    this.reloads.inc({ result })
    this.reloadTime.set({ result }, at.getTime() / 1000)
  }

  constructor (sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    /* eslint-disable no-new -- gauges register themselves and read their sources at scrape time */
    new Gauge({ name: 'mtls_open_connections', help: 'Open device TLS connections', registers, collect () { this.set(sources.openConnections()) } })
    new Gauge({ name: 'mtls_open_websockets', help: 'Open websocket tunnels', registers, collect () { this.set(sources.openWebsockets()) } })
    new Gauge({
      name: 'mtls_server_certificate_expiry_seconds',
      help: 'Seconds until the server certificate expires',
      registers,
      collect () {
        const cert = sources.trust()?.material.serverCert
        if (cert !== undefined) this.set(secondsLeft(cert))
      }
    })
    new Gauge({
      name: 'mtls_ca_certificate_expiry_seconds',
      help: 'Seconds until each tenant CA certificate expires',
      labelNames: ['subject'],
      registers,
      collect () {
        this.reset()
        for (const ca of sources.trust()?.material.caCerts ?? []) this.set({ subject: ca.subject.replaceAll('\n', ', ') }, secondsLeft(ca))
      }
    })
    new Gauge({
      name: 'mtls_crl_next_update_seconds',
      help: 'Seconds until each loaded CRL\'s nextUpdate (negative: stale)',
      labelNames: ['source'],
      registers,
      collect () {
        this.reset()
        for (const crl of sources.trust()?.crls ?? []) {
          if (crl.nextUpdate !== undefined) this.set({ source: crl.source }, Math.round((crl.nextUpdate.getTime() - Date.now()) / 1000))
        }
      }
    })
    new Gauge({
      name: 'mtls_revoked_serials',
      help: 'Serials refused by the denylist and by the loaded CRLs',
      labelNames: ['source'],
      registers,
      collect () {
        const t = sources.trust()
        this.set({ source: 'denylist' }, t?.denylist.size ?? 0)
        this.set({ source: 'crl' }, (t?.crls ?? []).reduce((n, c) => n + c.serials.size, 0))
      }
    })
    /* eslint-enable no-new */
  }
}
