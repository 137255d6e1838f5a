// The one Prometheus registry of a process, served by the status listener at /metrics: Node's default process_* and
// nodejs_* metrics plus whatever each mode registers. Every mtls_* metric is listed in the README (tested).
import { Registry, collectDefaultMetrics } from 'prom-client'

export function createRegistry (): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}
