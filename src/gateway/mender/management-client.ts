// Calls to Mender's management API the ambassador needs: preauthorize (devauth v2), retried once with a fresh
// token when Mender answers 401, each through the call gate (bounded concurrency; a 429 holds every call for its
// Retry-After). Network failures and unexpected answers become coded errors.
import { request, type Dispatcher } from 'undici'
import type { Logger } from 'pino'
import { HttpErrors, type CodedError } from '../../errors.js'
import type { ManagementAuth } from './management-auth.js'
import { busy, retryAfterSeconds, type CallGate } from './call-gate.js'

export const PREAUTH_PATH = '/api/management/v2/devauth/devices'

export type PreauthOutcome = 'created' | 'conflict'

export interface PreauthRequest {
  identity: Record<string, unknown>
  pubkeyPem: string
  force: boolean
}

export class ManagementClient {
  preauthCalls = 0

  constructor (private readonly o: {
    baseUrl: string, auth: ManagementAuth, dispatcher: Dispatcher, log: Logger, gate: CallGate
  }) {}

  /** POST /devauth/devices: 201 → created, 409 → conflict (identity exists); anything else throws. */
  async preauthorize (req: PreauthRequest): Promise<PreauthOutcome> {
    let jwt = await this.o.auth.token()
    // the force upsert after a 409 continues a device's sequence, as does the retry after a refreshed login
    let res = await this.post(req, jwt, req.force)
    if (res.status === 401 && !this.o.auth.usesStaticToken) {
      this.o.auth.invalidate(jwt)
      jwt = await this.o.auth.token()
      res = await this.post(req, jwt, true)
    }
    if (res.status === 201) return 'created'
    if (res.status === 409) return 'conflict'
    const err: CodedError = res.status === 401 || res.status === 403
      ? new HttpErrors.MGMT_LOGIN_FAILED()
      : new HttpErrors.PREAUTH_FAILED()
    this.o.log.error({ code: err.code, upstreamStatus: res.status, upstreamError: res.error }, 'preauthorization refused by Mender')
    throw Object.assign(err, { upstreamStatus: res.status })
  }

  private async post (
    req: PreauthRequest, jwt: string, continuation: boolean
  ): Promise<{ status: number, error?: string }> {
    return await this.o.gate.run(async () => await this.send(req, jwt), { continuation })
  }

  private async send (req: PreauthRequest, jwt: string): Promise<{ status: number, error?: string }> {
    const body = JSON.stringify({
      identity_data: req.identity, pubkey: req.pubkeyPem, ...(req.force ? { force: true } : {})
    })
    this.preauthCalls++
    let res: Dispatcher.ResponseData
    try {
      res = await request(new URL(PREAUTH_PATH, this.o.baseUrl), {
        method: 'POST',
        dispatcher: this.o.dispatcher,
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body
      })
    } catch (err) {
      this.o.log.error({ code: 'MTLS_ERR_MGMT_UNAVAILABLE', cause: (err as Error).message }, 'preauthorization unreachable')
      throw new HttpErrors.MGMT_UNAVAILABLE({ cause: err })
    }
    const text = await res.body.text()
    if (res.statusCode === 429) {
      const seconds = retryAfterSeconds(res.headers['retry-after'])
      this.o.gate.throttle(seconds)
      this.o.log.warn({ code: 'MTLS_ERR_MGMT_THROTTLED', upstreamStatus: 429, retryAfter: seconds }, 'Mender throttles preauthorization')
      throw Object.assign(busy('THROTTLED', seconds), { upstreamStatus: 429 })
    }
    if (res.statusCode >= 500) {
      this.o.log.error({ code: 'MTLS_ERR_MGMT_UNAVAILABLE', upstreamStatus: res.statusCode }, 'preauthorization failed upstream')
      throw Object.assign(new HttpErrors.MGMT_UNAVAILABLE(), { upstreamStatus: res.statusCode })
    }
    return { status: res.statusCode, error: errorText(text) }
  }
}

function errorText (text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: unknown }
    return typeof parsed.error === 'string' ? parsed.error : undefined
  } catch {
    return undefined
  }
}
