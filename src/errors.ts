// Every coded error of the ambassador, in one place. HTTP errors carry the status the device sees; the message is
// the terse text that goes into the Mender-shaped body. The README's error-code table is tested against this list.
import createError from '@fastify/error'

type Ctor = ReturnType<typeof createError>
const def = (code: string, message: string, status: number): Ctor => createError(code, message, status)

/** Errors answered to a device over HTTP. */
export const HttpErrors = {
  BAD_REQUEST: def('MTLS_ERR_BAD_REQUEST', 'bad request', 400),
  UNAUTHENTICATED: def('MTLS_ERR_UNAUTHENTICATED', 'unauthorized', 401),
  BAD_TARGET: def('MTLS_ERR_BAD_TARGET', 'bad request', 400),
  BAD_UPGRADE: def('MTLS_ERR_BAD_UPGRADE', 'bad request', 400),
  EXPECTATION_FAILED: def('MTLS_ERR_EXPECTATION_FAILED', 'expectation failed', 417),
  REQUEST_TIMEOUT: def('MTLS_ERR_REQUEST_TIMEOUT', 'request timeout', 408),
  HEADERS_TOO_LARGE: def('MTLS_ERR_HEADERS_TOO_LARGE', 'request header fields too large', 431),
  NOT_FOUND: def('MTLS_ERR_NOT_FOUND', 'not found', 404),
  AUTH_PATH_ALIAS: def('MTLS_ERR_AUTH_PATH_ALIAS', 'not found', 404),
  METHOD_NOT_ALLOWED: def('MTLS_ERR_METHOD_NOT_ALLOWED', 'method not allowed', 405),
  BODY_TOO_LARGE: def('MTLS_ERR_BODY_TOO_LARGE', 'request body too large', 413),
  UNSUPPORTED_MEDIA_TYPE: def('MTLS_ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported media type', 415),
  AUTH_MALFORMED: def('MTLS_ERR_AUTH_MALFORMED', 'failed to decode auth request', 400),
  AUTH_TOO_DEEP: def('MTLS_ERR_AUTH_TOO_DEEP', 'failed to decode auth request: nested too deep', 400),
  AUTH_AMBIGUOUS_FIELD: def('MTLS_ERR_AUTH_AMBIGUOUS_FIELD', 'failed to decode auth request: ambiguous field', 400),
  AUTH_BAD_ID_DATA: def('MTLS_ERR_AUTH_BAD_ID_DATA', 'invalid auth request: id_data must be a JSON object', 400),
  AUTH_ID_DATA_TOO_DEEP: def('MTLS_ERR_AUTH_ID_DATA_TOO_DEEP', 'invalid auth request: id_data nested too deep', 400),
  AUTH_ID_DATA_TOO_LARGE: def('MTLS_ERR_AUTH_ID_DATA_TOO_LARGE', 'invalid auth request: id_data too large', 400),
  AUTH_BAD_PUBKEY: def('MTLS_ERR_AUTH_BAD_PUBKEY', 'invalid auth request: bad pubkey', 400),
  AUTH_MISSING_SIGNATURE: def('MTLS_ERR_AUTH_MISSING_SIGNATURE', 'missing request signature header', 400),
  AUTH_BAD_SIGNATURE: def('MTLS_ERR_AUTH_BAD_SIGNATURE', 'signature verification failed', 401),
  AUTH_KEY_MISMATCH: def('MTLS_ERR_AUTH_KEY_MISMATCH', 'dev auth: unauthorized', 401),
  MISDIRECTED: def('MTLS_ERR_MISDIRECTED', 'misdirected request', 421),
  AUTH_TENANT_TOKEN: def('MTLS_ERR_AUTH_TENANT_TOKEN', 'dev auth: unauthorized', 401),
  IDENTITY_MISMATCH: def('MTLS_ERR_IDENTITY_MISMATCH', 'dev auth: identity does not match the certificate', 403),
  RATE_LIMITED: def('MTLS_ERR_RATE_LIMITED', 'too many requests', 429),
  OVERLOADED: def('MTLS_ERR_OVERLOADED', 'service unavailable', 503),
  AUTH_UNSUPPORTED_KEY: def('MTLS_ERR_AUTH_UNSUPPORTED_KEY', 'invalid auth request: unsupported key type', 400),
  MGMT_LOGIN_FAILED: def('MTLS_ERR_MGMT_LOGIN_FAILED', 'device authorization unavailable', 502),
  MGMT_UNAVAILABLE: def('MTLS_ERR_MGMT_UNAVAILABLE', 'device authorization unavailable', 503),
  MGMT_BUSY: def('MTLS_ERR_MGMT_BUSY', 'device authorization busy', 503),
  MGMT_THROTTLED: def('MTLS_ERR_MGMT_THROTTLED', 'device authorization busy', 503),
  PREAUTH_FAILED: def('MTLS_ERR_PREAUTH_FAILED', 'device authorization failed', 502),
  UPSTREAM_CONNECT: def('MTLS_ERR_UPSTREAM_CONNECT', 'backend unavailable', 502),
  UPSTREAM_TLS: def('MTLS_ERR_UPSTREAM_TLS', 'backend unavailable', 502),
  UPSTREAM_TIMEOUT: def('MTLS_ERR_UPSTREAM_TIMEOUT', 'backend timeout', 504),
  UPSTREAM_UNAVAILABLE: def('MTLS_ERR_UPSTREAM_UNAVAILABLE', 'backend unavailable', 503),
  SHUTTING_DOWN: def('MTLS_ERR_SHUTTING_DOWN', 'service unavailable', 503),
  INTERNAL: def('MTLS_ERR_INTERNAL', 'internal error', 500)
} as const

/**
 * Codes that only ever appear in the log (the device or the operator sees no error): a degraded but working state,
 * or a background task that failed and will be retried. Listed with their meaning in the README's log-code table.
 */
export const LogCodes = {
  CRL_FETCH: 'MTLS_ERR_CRL_FETCH',
  RELOAD_FAILED: 'MTLS_ERR_RELOAD_FAILED',
  CERT_GRACE: 'MTLS_WARN_CERT_GRACE',
  CRL_STALE: 'MTLS_WARN_CRL_STALE',
  IDENTITY_MISMATCH: 'MTLS_WARN_IDENTITY_MISMATCH',
  KEY_MISMATCH_ALLOWED: 'MTLS_WARN_KEY_MISMATCH_ALLOWED',
  MGMT_DOWN: 'MTLS_WARN_MGMT_DOWN',
  FD_LIMIT: 'MTLS_WARN_FD_LIMIT',
  ACCEPT_FAILED: 'MTLS_ERR_ACCEPT',
  H2_SESSION: 'MTLS_WARN_H2_SESSION',
  MGMT_UP: 'MTLS_INFO_MGMT_UP',
  WORKER_EXIT: 'MTLS_ERR_WORKER_EXIT'
} as const

/** Reason codes logged for refused TLS handshakes (the device gets a TLS alert, never a body). */
export const TlsReasons = {
  NO_CERT: 'MTLS_ERR_TLS_NO_CERT',
  UNKNOWN_CA: 'MTLS_ERR_TLS_UNKNOWN_CA',
  CERT_EXPIRED: 'MTLS_ERR_TLS_CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'MTLS_ERR_TLS_CERT_NOT_YET_VALID',
  BAD_CHAIN: 'MTLS_ERR_TLS_BAD_CHAIN',
  REVOKED: 'MTLS_ERR_TLS_REVOKED',
  CRL_STALE: 'MTLS_ERR_TLS_CRL_STALE',
  CONN_LIMIT: 'MTLS_ERR_TLS_CONN_LIMIT',
  TENANT_MISMATCH: 'MTLS_ERR_TLS_TENANT_MISMATCH',
  PROTOCOL: 'MTLS_ERR_TLS_PROTOCOL',
  HANDSHAKE: 'MTLS_ERR_TLS_HANDSHAKE',
  BAD_CERT: 'MTLS_ERR_TLS_BAD_CERT',
  CA_LEAF: 'MTLS_ERR_TLS_CA_LEAF',
  WEAK_KEY: 'MTLS_ERR_TLS_WEAK_KEY',
  KEY_USAGE: 'MTLS_ERR_TLS_KEY_USAGE',
  WEAK_SIGNATURE: 'MTLS_ERR_TLS_WEAK_SIGNATURE',
  CRITICAL_EXTENSION: 'MTLS_ERR_TLS_CRITICAL_EXTENSION',
  NAME_CONSTRAINTS: 'MTLS_ERR_TLS_NAME_CONSTRAINTS',
  INTERNAL: 'MTLS_ERR_TLS_INTERNAL',
  ACCESS_DENIED: 'MTLS_ERR_TLS_ACCESS_DENIED',
  SERVER_NAME: 'MTLS_ERR_TLS_SERVER_NAME'
} as const

/** Errors that stop the process before it serves (configuration, unreadable TLS material); see NetErrors for ports. */
export const StartupErrors = {
  CONFIG_INVALID: def('MTLS_ERR_CONFIG_INVALID', 'invalid configuration:\n%s', 500),
  TLS_MATERIAL: def('MTLS_ERR_TLS_MATERIAL', 'cannot load TLS material: %s', 500)
} as const

/** Errors of the L4 socket layer (src/net): listening, inherited sockets, dialling a tunnel target. */
export const NetErrors = {
  LISTEN: def('MTLS_ERR_LISTEN', 'cannot listen on %s: %s', 500),
  LISTEN_IN_USE: def('MTLS_ERR_LISTEN_IN_USE', 'another process is listening on %s', 500),
  LISTEN_PATH: def('MTLS_ERR_LISTEN_PATH', 'cannot listen on %s: %s', 500),
  LISTEN_OWNER: def('MTLS_ERR_LISTEN_OWNER', 'cannot listen on %s: %s', 500),
  LISTEN_INHERITED: def('MTLS_ERR_LISTEN_INHERITED', 'cannot use inherited socket %s: %s', 500),
  TUNNEL_CONNECT: def('MTLS_ERR_TUNNEL_CONNECT', 'cannot connect to %s: %s', 502),
  TUNNEL_CONNECT_TIMEOUT: def('MTLS_ERR_TUNNEL_CONNECT_TIMEOUT', 'connecting to %s timed out after %s ms', 504),
  TUNNEL_CONNECT_ABORTED: def('MTLS_ERR_TUNNEL_CONNECT_ABORTED', 'connecting to %s was aborted', 502)
} as const

/** Reason codes logged when the socket layer refuses or cuts a connection before it carries data. */
export const NetReasons = {
  CONN_LIMIT_TOTAL: 'MTLS_ERR_CONN_LIMIT_TOTAL',
  CONN_LIMIT_SOURCE: 'MTLS_ERR_CONN_LIMIT_SOURCE',
  CONN_SETUP_TIMEOUT: 'MTLS_ERR_CONN_SETUP_TIMEOUT'
} as const

export type HttpErrorName = keyof typeof HttpErrors

/** Shape of a coded error as thrown by the constructors above (match on `.code`, never instanceof). */
export interface CodedError extends Error {
  code: string
  statusCode?: number
}

export function isCoded (err: unknown): err is CodedError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string'
}
