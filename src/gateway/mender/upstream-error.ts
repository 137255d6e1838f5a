// Classifies failures talking to Mender (network, TLS, timeout) into the coded errors the device sees.
import { HttpErrors, type CodedError } from '../../errors.js'

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'FST_REPLY_FROM_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT'])
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN'])
const TLS = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|ALTNAME/

/** The innermost error code of an error chain (reply-from wraps undici errors in `cause`). */
export function rootCode (err: unknown): string {
  let cur: unknown = err
  let code = ''
  for (let depth = 0; cur instanceof Error && depth < 5; depth++) {
    const c = (cur as { code?: unknown }).code
    if (typeof c === 'string') code = c
    cur = (cur as { cause?: unknown }).cause
  }
  return code
}

/** Coded error for a proxied request that failed before Mender answered. */
export function upstreamFailure (err: unknown): CodedError {
  const code = rootCode(err)
  const opts = { cause: err }
  if (TIMEOUTS.has(code)) return new HttpErrors.UPSTREAM_TIMEOUT(opts)
  if (DNS.has(code)) return new HttpErrors.UPSTREAM_UNAVAILABLE(opts)
  if (TLS.test(code)) return new HttpErrors.UPSTREAM_TLS(opts)
  return new HttpErrors.UPSTREAM_CONNECT(opts)
}
