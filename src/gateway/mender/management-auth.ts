// Management API credentials: a personal access token as is, or a user login (Basic auth → JWT) cached by its
// `exp`, refreshed ahead of expiry and after a 401, with one login in flight however many callers wait.
import { request, type Dispatcher } from 'undici'
import type { Logger } from 'pino'
import { HttpErrors, type CodedError } from '../../errors.js'
import { wellFormedJwtClaims } from './jwt.js'

export const LOGIN_PATH = '/api/management/v1/useradm/auth/login'
const FALLBACK_LIFETIME_S = 3600

export interface ManagementAuthOptions {
  baseUrl: string
  user: string
  pass: string
  token: string
  dispatcher: Dispatcher
  log: Logger
  now?: () => number
  /** Called after every login attempt: `login` (first), `refresh` (later ones) or `failed`. */
  onLogin?: (result: 'login' | 'refresh' | 'failed') => void
}

interface Cached { jwt: string, refreshAt: number, expiresAt: number }

export class ManagementAuth {
  private cached: Cached | undefined
  private inflight: Promise<string> | undefined
  private readonly now: () => number
  logins = 0
  lastError: CodedError | undefined

  constructor (private readonly o: ManagementAuthOptions) {
    this.now = o.now ?? Date.now
  }

  get usesStaticToken (): boolean { return this.o.token !== '' }

  /** A token valid now; logs in (once, shared) when none is cached or it is due for refresh. */
  async token (): Promise<string> {
    if (this.usesStaticToken) return this.o.token
    const c = this.cached
    if (c !== undefined && this.now() < c.refreshAt) return c.jwt
    this.inflight ??= this.login().finally(() => { this.inflight = undefined })
    return await this.inflight
  }

  /** Drops a token Mender refused, so the next call logs in again. */
  invalidate (jwt: string): void {
    if (this.cached?.jwt === jwt) this.cached = undefined
  }

  private async login (): Promise<string> {
    const basic = Buffer.from(`${this.o.user}:${this.o.pass}`).toString('base64')
    let res: Dispatcher.ResponseData
    try {
      res = await request(new URL(LOGIN_PATH, this.o.baseUrl), {
        method: 'POST', dispatcher: this.o.dispatcher, headers: { authorization: `Basic ${basic}` }
      })
    } catch (err) {
      throw this.fail(new HttpErrors.MGMT_UNAVAILABLE({ cause: err }), 'management login unreachable')
    }
    const text = await res.body.text()
    if (res.statusCode !== 200) {
      const err = res.statusCode >= 500 ? new HttpErrors.MGMT_UNAVAILABLE() : new HttpErrors.MGMT_LOGIN_FAILED()
      throw this.fail(Object.assign(err, { upstreamStatus: res.statusCode }), 'management login refused')
    }
    // only a well-formed JWT is a token: a 200 HTML page (a portal, a misrouted proxy) or JSON error is a failure;
    // the body never reaches the log
    const jwt = text.trim()
    const claims = wellFormedJwtClaims(jwt)
    if (claims === undefined) {
      const err = Object.assign(new HttpErrors.MGMT_LOGIN_FAILED(), { upstreamStatus: 200 })
      throw this.fail(err, 'management login answered 200 without a well-formed JWT')
    }
    const now = this.now()
    const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : now + FALLBACK_LIFETIME_S * 1000
    const lifetime = Math.max(0, expiresAt - now)
    // refresh after 80% of the lifetime, and never later than one minute before expiry
    const refreshAt = Math.min(now + lifetime * 0.8, expiresAt - 60_000)
    this.cached = { jwt, refreshAt, expiresAt }
    this.logins++
    this.lastError = undefined
    this.o.onLogin?.(this.logins > 1 ? 'refresh' : 'login')
    this.o.log.info({ event: 'mgmt_login', expiresAt: new Date(expiresAt).toISOString(), refresh: this.logins > 1 }, 'management login ok')
    return jwt
  }

  private fail (err: CodedError, msg: string): CodedError {
    this.lastError = err
    this.o.onLogin?.('failed')
    this.o.log.error({
      code: err.code,
      upstreamStatus: (err as { upstreamStatus?: number }).upstreamStatus,
      cause: (err.cause as Error | undefined)?.message
    }, msg)
    return err
  }
}
