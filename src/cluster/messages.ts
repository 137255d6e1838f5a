// The messages between a cluster's primary and its workers (Node's IPC channel): a worker says hello and is given
// the shared ticket secret; it reports its start (addresses) or its startup failure; the primary asks it questions
// (readiness, metrics) and gives it orders (reload, stop), each request answered by id. Every message carries `mtls`.
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { Readiness } from '../status/readiness.js'
import type { ReloadResult } from '../tls/reloader.js'

/** What the primary asks a worker, and what each answer holds. */
export interface Answers {
  readiness: Readiness
  metrics: Array<MetricObjectWithValues<MetricValue<string>>>
  reload: ReloadResult[]
  stop: null
}
export type RequestKind = keyof Answers

export type ToWorker =
  | { mtls: 'init', secret: string }
  | { mtls: 'request', id: number, kind: RequestKind, trigger?: string }

export type FromWorker =
  | { mtls: 'hello' }
  | { mtls: 'started', url: string, addresses: Record<string, string>, modes: string[] }
  | { mtls: 'failed', message: string, code?: string }
  | { mtls: 'answer', id: number, value?: unknown, error?: string }

/** Whether `m` is one of ours (prom-client and Node's cluster module use the same channel). */
export function isOurs<T extends { mtls: string }> (m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { mtls?: unknown }).mtls === 'string'
}
