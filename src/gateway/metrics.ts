// The HTTP gateway's own metrics (on the process registry): requests and their latency, auth decisions, management
// logins and health, failures talking to Mender, open websocket tunnels.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

const BOUND_MAX = 1000

export class GatewayMetrics {
  readonly requests: Counter
  readonly duration: Histogram
  readonly authDecisions: Counter
  readonly managementLogins: Counter
  readonly upstreamErrors: Counter
  readonly managementUp: Gauge

  private readonly bound = new Map<string, { count: { inc: () => void }, time: { observe: (v: number) => void } }>()

  constructor (private readonly registry: Registry) {
    const registers = [registry]
    this.requests = new Counter({ name: 'mtls_requests_total', help: 'HTTP requests answered, by route group, method and status', labelNames: ['route', 'method', 'status'], registers })
    this.duration = new Histogram({ name: 'mtls_request_duration_seconds', help: 'Request latency by route group', labelNames: ['route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })
    this.authDecisions = new Counter({ name: 'mtls_auth_decisions_total', help: 'Auth request decisions (created, forced, conflict, cached, refused) with the refusal code', labelNames: ['decision', 'reason'], registers })
    this.managementLogins = new Counter({ name: 'mtls_management_logins_total', help: 'Management API logins by result (login, refresh, failed)', labelNames: ['result'], registers })
    this.upstreamErrors = new Counter({ name: 'mtls_upstream_errors_total', help: 'Failures talking to Mender by error code', labelNames: ['kind'], registers })
    this.managementUp = new Gauge({ name: 'mtls_management_up', help: 'Whether the tenant holds a management API token (1) or its login is pending or failing (0)', labelNames: ['tenant'], registers, aggregator: 'min' })
  }

  /** Counts one answered request and its latency, through label sets bound once per combination. */
  answered (route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`
    let bound = this.bound.get(key)
    if (bound === undefined) {
      // methods and statuses are bounded by Node's parser; the cap only keeps a pathological mix from growing
      if (this.bound.size >= BOUND_MAX) this.bound.clear()
      bound = { count: this.requests.labels(route, method, String(status)), time: this.duration.labels(route) }
      this.bound.set(key, bound)
    }
    bound.count.inc()
    bound.time.observe(seconds)
  }

  /** Registers the websocket gauge, read from `open()` at every scrape. */
  watchWebsockets (open: () => number): void {
    // eslint-disable-next-line no-new -- a gauge registers itself and reads its source at scrape time
    new Gauge({ name: 'mtls_open_websockets', help: 'Open websocket tunnels', registers: [this.registry], collect () { this.set(open()) } })
  }
}
