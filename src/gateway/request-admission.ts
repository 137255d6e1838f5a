// Request admission, one function for HTTP requests and websocket upgrades (fails closed): an admitted TLS peer, not
// draining, a canonical request target, a Host that names the connection's server, and for upgrades a websocket
// under /api/devices other than the auth path. Also the one access-log line and request metrics of both.
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { HttpErrors, type CodedError } from '../errors.js'
import { peerLog, peerOf, type PeerIdentity } from '../tls/peer.js'
import { checkTarget, hostName } from './proxy/target.js'
import { AUTH_PATH, DEVICE_PREFIX, PING_PATH, STATUS_PATH } from './mender/paths.js'
import type { GatewayMetrics } from './metrics.js'
import type { FixedFieldLog } from '../observe/logger.js'
import { authorityProblem, headersTooLarge, isHttp2, requestHost } from './http2.js'

export type RouteGroup = 'auth' | 'device' | 'status' | 'other'

export type Admission =
  | { ok: true, peer: PeerIdentity, path: string, query: string, route: RouteGroup }
  | { ok: false, peer: PeerIdentity | undefined, error: CodedError, detail?: string }

const UPSTREAM_CODE = /^MTLS_ERR_(UPSTREAM|MGMT|PREAUTH)_/
const MAX_LOGGED_URL = 2048

export function routeOf (path: string): RouteGroup {
  if (path === AUTH_PATH) return 'auth'
  if (path === STATUS_PATH || path === PING_PATH) return 'status'
  if (path.startsWith(DEVICE_PREFIX + '/')) return 'device'
  return 'other'
}

/**
 * True when the request's Host names another server than the TLS server name (SNI) the connection was made for: a
 * connection set up for one tenant must not carry requests meant for another (RFC 9110 §15.5.20, 421).
 */
export function misdirected (servername: string | false | null | undefined, host: string | undefined): boolean {
  if (typeof servername !== 'string' || servername === '' || host === undefined) return false
  return hostName(host) !== servername.toLowerCase()
}

/** The authority an absolute-form target names must be the server of this connection: its SNI, else its Host. */
function wrongAuthority (
  authority: string, servername: string | false | null | undefined, host: string | undefined
): boolean {
  if (typeof servername === 'string' && servername !== '') return hostName(authority) !== servername.toLowerCase()
  return host === undefined || hostName(authority) !== hostName(host)
}

/** RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host header ('' when it does); HTTP/2, see authorityProblem. */
function hostHeaderProblem (req: IncomingMessage): string {
  if (isHttp2(req)) return authorityProblem(req.headers)
  let count = 0
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') count++
  if (count > 1) return 'more than one Host header'
  if (count === 0 && req.httpVersion !== '1.0') return 'no Host header'
  return ''
}

const refused = (peer: PeerIdentity | undefined, error: CodedError, detail?: string): Admission =>
  ({ ok: false, peer, error, ...(detail !== undefined ? { detail } : {}) })

function upgradeProblem (req: IncomingMessage, route: RouteGroup): CodedError | undefined {
  if (route === 'auth') return new HttpErrors.AUTH_PATH_ALIAS()
  if (route !== 'device') return new HttpErrors.NOT_FOUND()
  const upgrade = req.headers.upgrade
  if (typeof upgrade !== 'string' || upgrade.trim().toLowerCase() !== 'websocket' || req.method !== 'GET') {
    return new HttpErrors.BAD_UPGRADE()
  }
  return undefined
}

export interface AdmissionOptions {
  isDraining: () => boolean
  metrics: GatewayMetrics
  /** Where the access lines go (fixed fields only). */
  accessLog: FixedFieldLog
}

export class RequestAdmission {
  constructor (private readonly o: AdmissionOptions) {}

  /** Admits one request (`upgrade`: a websocket upgrade, which has no HTTP layer behind it). */
  admit (req: IncomingMessage, upgrade: boolean): Admission {
    const socket = req.socket as TLSSocket
    const peer = peerOf(socket)
    if (peer === undefined) return refused(peer, new HttpErrors.UNAUTHENTICATED())
    // HTTP/1.1's parser refuses these before any admission; HTTP/2 has no such limit of its own
    if (isHttp2(req) && headersTooLarge(req)) return refused(peer, new HttpErrors.HEADERS_TOO_LARGE())
    if (this.o.isDraining()) return refused(peer, new HttpErrors.SHUTTING_DOWN())
    const target = checkTarget(req.url ?? '')
    if (!target.ok) {
      const error = target.refusal === 'AUTH_PATH_ALIAS' ? new HttpErrors.AUTH_PATH_ALIAS() : new HttpErrors.BAD_TARGET()
      return refused(peer, error, target.detail)
    }
    const host = requestHost(req)
    const hostProblem = hostHeaderProblem(req)
    if (hostProblem !== '') return refused(peer, new HttpErrors.BAD_REQUEST(), hostProblem)
    if (target.authority !== undefined && wrongAuthority(target.authority, socket.servername, host)) {
      return refused(peer, new HttpErrors.MISDIRECTED(), 'absolute-form authority')
    }
    if (misdirected(socket.servername, target.authority ?? host)) return refused(peer, new HttpErrors.MISDIRECTED())
    const route = routeOf(target.path)
    const problem = upgrade ? upgradeProblem(req, route) : undefined
    if (problem !== undefined) return refused(peer, problem)
    return { ok: true, peer, path: target.path, query: target.query, route }
  }

  /** The access-log line and request metrics of one answered request or upgrade. */
  answered (reqId: string, a: {
    method: string,
    url: string,
    route: RouteGroup,
    status: number,
    ms: number,
    peer: PeerIdentity | undefined,
    errorCode?: string | undefined,
    upgrade?: boolean,
    /** HTTP version of the request (`1.1`, `2.0`). */
    http?: string
  }): void {
    const m = this.o.metrics
    m.answered(a.route, a.method, a.status, a.ms / 1000)
    if (a.errorCode !== undefined && UPSTREAM_CODE.test(a.errorCode)) m.upstreamErrors.inc({ kind: a.errorCode })
    this.o.accessLog.info({
      reqId,
      event: a.upgrade === true ? 'upgrade' : 'access',
      method: a.method,
      url: a.url.length > MAX_LOGGED_URL ? a.url.slice(0, MAX_LOGGED_URL) + '…' : a.url,
      status: a.status,
      http: a.http,
      ms: Math.round(a.ms * 100) / 100,
      device: peerLog(a.peer)
    }, a.upgrade === true ? 'websocket upgrade' : 'request')
  }
}
