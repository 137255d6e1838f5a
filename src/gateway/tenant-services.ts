// Per-tenant Mender services: each tenant preauthorizes with its own management credentials (login or access token,
// its own token cache and preauthorization cache) and may require a tenant token in its devices' auth requests.
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { GatewayConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import { ManagementAuth } from './mender/management-auth.js'
import { ManagementClient } from './mender/management-client.js'
import { CallGate } from './mender/call-gate.js'
import { Preauthorizer } from './device-auth/preauthorizer.js'
import { DEFAULT_TENANT } from '../tls/tenants.js'
import type { LoginResult } from './mender/management-health.js'

export interface TenantServices {
  name: string
  auth: ManagementAuth
  management: ManagementClient
  preauthorizer: Preauthorizer
  /** Tenant token its devices must send ('' = not checked). */
  tenantToken: string
}

/** Called after every login attempt of a tenant, with the failure's code and upstream status. */
export type OnLogin = (result: LoginResult, tenant: string, failure?: LoginFailure) => void
export interface LoginFailure { code: string, upstreamStatus?: number }

interface Credentials {
  name: string
  mender_user: string
  mender_pass: string
  mender_token: string
  tenant_token: string
}

export function buildTenantServices (
  config: DeepReadonly<GatewayConfig>, o: { backend: string, dispatcher: Dispatcher, log: Logger, onLogin: OnLogin }
): Map<string, TenantServices> {
  const all: Credentials[] = [{ ...config, name: DEFAULT_TENANT }, ...config.tenants]
  const out = new Map<string, TenantServices>()
  // one gate for every tenant: they share the one Mender
  const gate = new CallGate({
    concurrency: config.mgmt_concurrency, queueSize: config.mgmt_queue_size, queueTimeoutMs: config.mgmt_queue_timeout
  })
  for (const t of all) {
    const log = o.log.child({ component: 'management', tenant: t.name })
    const auth = new ManagementAuth({
      baseUrl: o.backend,
      user: t.mender_user,
      pass: t.mender_pass,
      token: t.mender_token,
      dispatcher: o.dispatcher,
      log,
      onLogin: (result) => { o.onLogin(result, t.name, result === 'failed' ? failure(auth) : undefined) }
    })
    const management = new ManagementClient({ baseUrl: o.backend, auth, dispatcher: o.dispatcher, log, gate })
    const preauthorizer = new Preauthorizer({
      client: management,
      force: config.preauth_force,
      ttlSeconds: config.preauth_cache_ttl,
      maxEntries: config.preauth_cache_size
    })
    out.set(t.name, { name: t.name, auth, management, preauthorizer, tenantToken: t.tenant_token })
  }
  return out
}

const failure = (auth: ManagementAuth): LoginFailure => ({
  code: auth.lastError?.code ?? 'MTLS_ERR_MGMT_UNAVAILABLE',
  upstreamStatus: (auth.lastError as { upstreamStatus?: number } | undefined)?.upstreamStatus
})

/** Starts a login for every tenant whose token is missing or due (one in flight each); never waits for it. */
export function startLogins (tenants: Map<string, TenantServices>): void {
  for (const t of tenants.values()) t.auth.token().catch(() => { /* logged by ManagementAuth, tracked by health */ })
}
