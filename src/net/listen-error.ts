// A listener that cannot bind becomes MTLS_ERR_LISTEN with the address and a plain reason:
// "cannot listen on 127.0.0.1:8080: address already in use".
import { NetErrors, type CodedError } from '../errors.js'

export const LISTEN_CODE = 'MTLS_ERR_LISTEN'

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name does not resolve'
}

/** `host:port`, IPv6 addresses in brackets. */
export function hostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Whether `err` is an error of listen() itself (as Node throws it: code, syscall 'listen', address, port). */
export function isListenFailure (err: unknown): boolean {
  return (err as { syscall?: unknown }).syscall === 'listen'
}

/** MTLS_ERR_LISTEN for a failed listen on `where` (or on the address the error names). */
export function listenError (err: unknown, where?: { host: string, port: number }): CodedError {
  const e = err as NodeJS.ErrnoException & { address?: string, port?: number }
  if (e.code === LISTEN_CODE) return e as CodedError
  const host = where?.host ?? e.address ?? '?'
  const port = where?.port ?? e.port ?? 0
  const reason = (e.code !== undefined ? REASONS[e.code] : undefined) ?? e.message
  return new NetErrors.LISTEN(hostPort(host, port), reason, { cause: err })
}
