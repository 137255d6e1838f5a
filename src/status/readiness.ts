// Readiness: TLS material is loaded (the listener could not exist otherwise) and a management token can be had.
import type { ManagementAuth } from '../mender/management-auth.js'
import type { TlsMaterial } from '../tls/material.js'
import type { ReloadResult } from '../tls/reloader.js'

export interface Check { ok: boolean, detail?: string, /** reported, but does not decide readiness */ advisory?: boolean }
export interface Readiness { ready: boolean, checks: Record<string, Check> }

const CHECK_TIMEOUT_MS = 5000

export async function checkReadiness (
  material: TlsMaterial, auth: Pick<ManagementAuth, 'token'>, lastReload?: ReloadResult, now = Date.now()
): Promise<Readiness> {
  const certValid = Date.parse(material.serverCert.validTo) > now
  const checks: Readiness['checks'] = {
    tls: certValid ? { ok: true } : { ok: false, detail: 'server certificate expired' }
  }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      auth.token(),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS) })
    ])
    checks.management = { ok: true }
  } catch (err) {
    checks.management = { ok: false, detail: (err as { code?: string }).code ?? (err as Error).message }
  } finally {
    clearTimeout(timer)
  }
  // a failed reload keeps serving the last good state: visible here, but not a reason to take the pod out
  if (lastReload !== undefined) {
    checks.reload = { ok: lastReload.ok, advisory: true, detail: `${lastReload.trigger} at ${lastReload.at.toISOString()}${lastReload.error !== undefined ? `: ${lastReload.error}` : ''}` }
  }
  return { ready: Object.values(checks).every((c) => c.ok || c.advisory === true), checks }
}
