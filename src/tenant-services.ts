// Per-tenant Mender services: each tenant preauthorizes with its own management credentials (login or access token,
// its own token cache and preauthorization cache) and may require a tenant token in its devices' auth requests.
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { Config } from './config/schema.js'
import { ManagementAuth } from './mender/management-auth.js'
import { ManagementClient } from './mender/management-client.js'
import { Preauthorizer } from './device-auth/preauthorizer.js'
import { DEFAULT_TENANT } from './tls/tenants.js'

export interface TenantServices {
  name: string
  auth: ManagementAuth
  management: ManagementClient
  preauthorizer: Preauthorizer
  /** Tenant token its devices must send ('' = not checked). */
  tenantToken: string
}

interface Credentials { name: string, mender_user: string, mender_pass: string, mender_token: string, tenant_token: string }

export function buildTenantServices (
  config: Config, o: { backend: string, dispatcher: Dispatcher, log: Logger, onLogin: (result: 'login' | 'refresh' | 'failed') => void }
): Map<string, TenantServices> {
  const all: Credentials[] = [{ ...config, name: DEFAULT_TENANT }, ...config.tenants]
  const out = new Map<string, TenantServices>()
  for (const t of all) {
    const log = o.log.child({ component: 'management', tenant: t.name })
    const auth = new ManagementAuth({
      baseUrl: o.backend, user: t.mender_user, pass: t.mender_pass, token: t.mender_token, dispatcher: o.dispatcher, log, onLogin: o.onLogin
    })
    const management = new ManagementClient({ baseUrl: o.backend, auth, dispatcher: o.dispatcher, log })
    const preauthorizer = new Preauthorizer({ client: management, force: config.preauth_force, ttlSeconds: config.preauth_cache_ttl, maxEntries: config.preauth_cache_size })
    out.set(t.name, { name: t.name, auth, management, preauthorizer, tenantToken: t.tenant_token })
  }
  return out
}

/** A token source that is ready only when every tenant can log in (readiness). */
export function allTenantsToken (tenants: Map<string, TenantServices>): { token: () => Promise<string> } {
  return {
    token: async () => {
      for (const t of tenants.values()) await t.auth.token()
      return ''
    }
  }
}
