// Connects to a tunnel target (TCP or Unix socket) with a connect deadline and an abort signal; every failure is a
// coded error naming the target and no socket or timer outlives it. TLS dialling builds on connectOptions and
// awaitConnect: tls.connect({ ...connectOptions(address), ...tls }) then awaitConnect(socket, { readyEvent }).
import { connect, type NetConnectOpts, type Socket } from 'node:net'
import { NetErrors, type CodedError } from '../errors.js'
import { formatAddress, type Address, type TcpAddress, type UnixAddress } from './address.js'

export type DialableAddress = TcpAddress | UnixAddress

export interface DialOptions {
  /** Deadline for the connection (and, with readyEvent 'secureConnect', the TLS handshake); must be > 0. */
  connectTimeoutMs: number
  /** Default true: the tunnel needs half-close (a TLSSocket wrapping this socket inherits it). */
  allowHalfOpen?: boolean
  /** TCP keep-alive probes after this idle time (ms); off when unset or 0. */
  keepAliveMs?: number
  /** Aborting destroys the socket and rejects with MTLS_ERR_TUNNEL_CONNECT_ABORTED. */
  signal?: AbortSignal
}

export interface AwaitConnectOptions {
  connectTimeoutMs: number
  signal?: AbortSignal
  /** The event that means "ready": 'connect' for net sockets (default), 'secureConnect' for TLS ones. */
  readyEvent?: 'connect' | 'secureConnect'
}

/** net.connect / tls.connect options for an address; Nagle off on TCP (a tunnel carries interactive traffic). */
export function connectOptions (address: DialableAddress, allowHalfOpen = true): NetConnectOpts {
  if (address.kind === 'unix') return { path: address.path, allowHalfOpen }
  return { host: address.host, port: address.port, allowHalfOpen, noDelay: true }
}

function checkTimeout (ms: unknown): string | undefined {
  return typeof ms === 'number' && Number.isInteger(ms) && ms > 0 && ms <= 0x7fffffff
    ? undefined
    : `connectTimeoutMs must be a positive integer of ms, got ${String(ms)}`
}

/**
 * Waits until `socket` is ready; on timeout, error or abort the socket is destroyed and the promise rejects with
 * a coded error (MTLS_ERR_TUNNEL_CONNECT / _TIMEOUT / _ABORTED) whose cause is the underlying error.
 */
export async function awaitConnect<S extends Socket> (socket: S, address: Address,
  opts: AwaitConnectOptions): Promise<S> {
  const where = formatAddress(address)
  return await new Promise<S>((resolve, reject) => {
    const event = opts.readyEvent ?? 'connect'
    const fail = (err: CodedError): void => { cleanup(); socket.destroy(); reject(err) }
    const onError = (err: NodeJS.ErrnoException): void => {
      fail(new NetErrors.TUNNEL_CONNECT(where, err.code ?? err.message, { cause: err }))
    }
    const onClose = (): void => fail(new NetErrors.TUNNEL_CONNECT(where, 'closed before it was ready'))
    const onAbort = (): void => fail(new NetErrors.TUNNEL_CONNECT_ABORTED(where))
    const onReady = (): void => { cleanup(); resolve(socket) }
    const timer = setTimeout(() => fail(new NetErrors.TUNNEL_CONNECT_TIMEOUT(where, opts.connectTimeoutMs)),
      opts.connectTimeoutMs)
    function cleanup (): void {
      clearTimeout(timer)
      socket.off(event, onReady)
      socket.off('error', onError)
      socket.off('close', onClose)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    socket.once(event, onReady)
    socket.once('error', onError)
    socket.once('close', onClose)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    if (opts.signal?.aborted === true) onAbort()
  })
}

/** Connects to a TCP or Unix address; resolves with the connected socket (allowHalfOpen unless told otherwise). */
export async function dial (address: Address, opts: DialOptions): Promise<Socket> {
  const where = formatAddress(address)
  if (address.kind === 'inherited') throw new NetErrors.TUNNEL_CONNECT(where, 'inherited sockets cannot be dialled')
  const problem = checkTimeout(opts.connectTimeoutMs)
  if (problem !== undefined) throw new RangeError(problem)
  if (opts.signal?.aborted === true) throw new NetErrors.TUNNEL_CONNECT_ABORTED(where)
  const socket = connect(connectOptions(address, opts.allowHalfOpen ?? true))
  const ready = await awaitConnect(socket, address, opts)
  if (opts.keepAliveMs !== undefined && opts.keepAliveMs > 0 && address.kind === 'tcp') {
    ready.setKeepAlive(true, opts.keepAliveMs)
  }
  return ready
}
