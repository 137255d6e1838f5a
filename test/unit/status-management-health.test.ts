// Unit tests of the management health record: states per tenant, the advisory check, and one log line per
// transition (MTLS_WARN_MGMT_DOWN, MTLS_INFO_MGMT_UP), never one per failed attempt.
import { beforeEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { ManagementHealth } from '../../src/gateway/mender/management-health.js'
import { LogCapture } from '../support/gateway.js'

let capture: LogCapture
let changes: Array<[string, boolean]>
let health: ManagementHealth
let clock: number

beforeEach(() => {
  capture = new LogCapture()
  changes = []
  clock = Date.parse('2026-01-01T00:00:00Z')
  const onChange = (t: string, up: boolean): void => { changes.push([t, up]) }
  health = new ManagementHealth({ log: pino(capture), onChange, now: () => new Date(clock) })
})

const codes = (): Array<string | undefined> => capture.records.map((r) => r.code).filter((c) => c !== undefined)

describe('ManagementHealth', () => {
  it('counts a tenant with a login pending as not up', () => {
    health.track('default', false)
    expect(health.isUp('default')).toBe(false)
    const detail = 'login pending since 2026-01-01T00:00:00.000Z'
    expect(health.check()).toEqual({ ok: false, advisory: true, detail })
  })

  it('counts a tenant with a static access token as up', () => {
    health.track('default', true)
    expect(health.check().ok).toBe(true)
  })

  it('logs MTLS_WARN_MGMT_DOWN once however many logins fail', () => {
    health.track('default', false)
    health.record('default', 'failed', 'MTLS_ERR_MGMT_UNAVAILABLE', 503)
    health.record('default', 'failed', 'MTLS_ERR_MGMT_UNAVAILABLE', 503)
    expect(codes()).toEqual(['MTLS_WARN_MGMT_DOWN'])
  })

  it('reports the failure code, upstream status and since when', () => {
    health.track('default', false)
    health.record('default', 'failed', 'MTLS_ERR_MGMT_UNAVAILABLE', 503)
    clock += 60_000
    health.record('default', 'failed', 'MTLS_ERR_MGMT_UNAVAILABLE', 503)
    expect(health.check().detail).toBe('MTLS_ERR_MGMT_UNAVAILABLE (upstream 503) since 2026-01-01T00:00:00.000Z')
  })

  it('logs MTLS_INFO_MGMT_UP on recovery, not on the first successful login', () => {
    health.track('default', false)
    health.record('default', 'login')
    health.record('default', 'failed', 'MTLS_ERR_MGMT_LOGIN_FAILED', 401)
    clock += 5000
    health.record('default', 'refresh')
    expect(codes()).toEqual(['MTLS_WARN_MGMT_DOWN', 'MTLS_INFO_MGMT_UP'])
    expect(capture.records.at(-1)).toMatchObject({ tenant: 'default', downForMs: 5000 })
  })

  it('tells the metric every change of state', () => {
    health.track('default', false)
    health.record('default', 'failed', 'MTLS_ERR_MGMT_UNAVAILABLE')
    health.record('default', 'login')
    health.record('default', 'refresh')
    expect(changes).toEqual([['default', false], ['default', false], ['default', true]])
  })

  it('names each tenant in the detail and is ok only when all are up', () => {
    health.track('default', true)
    health.track('acme', false)
    health.record('acme', 'failed', 'MTLS_ERR_MGMT_LOGIN_FAILED', 401)
    expect(health.check()).toEqual({
      ok: false,
      advisory: true,
      detail: 'default: access token since 2026-01-01T00:00:00.000Z; ' +
        'acme: MTLS_ERR_MGMT_LOGIN_FAILED (upstream 401) since 2026-01-01T00:00:00.000Z'
    })
  })
})
