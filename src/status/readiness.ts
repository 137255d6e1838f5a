// Readiness means "can serve devices": the TLS material is loaded and valid and the mTLS listener is up. Management
// API health and the last reload are reported as advisory checks: devices holding a JWT keep working without them.
import type { TlsMaterial } from '../tls/material.js'
import type { ReloadResult } from '../tls/reloader.js'

export interface Check {
  ok: boolean
  detail?: string
  /** reported, but does not decide readiness */
  advisory?: boolean
}
export interface Readiness { ready: boolean, checks: Record<string, Check> }

export interface ReadinessInputs {
  material: TlsMaterial
  /** Whether the mTLS listener accepts connections. */
  listening: boolean
  /** The last known management state (advisory; never a login to wait for). */
  management?: Check
  lastReload?: ReloadResult
}

export function checkReadiness (i: ReadinessInputs, now = Date.now()): Readiness {
  const certValid = Date.parse(i.material.serverCert.validTo) > now
  const checks: Readiness['checks'] = {
    tls: certValid ? { ok: true } : { ok: false, detail: 'server certificate expired' },
    listener: i.listening ? { ok: true } : { ok: false, detail: 'mTLS listener not listening' }
  }
  if (i.management !== undefined) checks.management = { ...i.management, advisory: true }
  // a failed reload keeps serving the last good state: visible here, but not a reason to take the pod out
  if (i.lastReload !== undefined) {
    const r = i.lastReload
    const error = r.error !== undefined ? `: ${r.error}` : ''
    checks.reload = { ok: r.ok, advisory: true, detail: `${r.trigger} at ${r.at.toISOString()}${error}` }
  }
  return { ready: Object.values(checks).every((c) => c.ok || c.advisory === true), checks }
}
