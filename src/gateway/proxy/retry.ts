// When a proxied request is tried again: at most once, only idempotent methods, only when the connection to Mender
// failed before any byte of the request was sent. Never on an HTTP answer: a Mender 503 goes to the device as is
// (with its Retry-After), so one device request is never more than two upstream attempts.
import { rootCode } from '../mender/upstream-error.js'

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS'])
/** Failures to establish the connection: nothing was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])
const RETRY_DELAY_MS = 50

export interface RetryQuestion {
  err: unknown
  req: { method?: string }
  res: unknown
  attempt: number
}

/** reply-from's `retryDelay`: milliseconds to wait before the one retry, or null for none. */
export function retryDelay (q: RetryQuestion): number | null {
  if (q.attempt >= 1 || q.err === null || q.err === undefined || (q.res !== null && q.res !== undefined)) return null
  if (!IDEMPOTENT.has((q.req.method ?? '').toUpperCase())) return null
  return NOT_SENT.has(rootCode(q.err)) ? RETRY_DELAY_MS : null
}
