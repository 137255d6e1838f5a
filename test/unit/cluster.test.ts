// Workers: how many run (`auto` follows the cores and a cgroup CPU quota, a Unix-socket tunnel keeps one process),
// an explicit count above 1 is refused for listeners only one process can own, session-ticket keys agree between
// processes sharing a secret and the same trust and differ otherwise, and a cluster is ready only when every worker is.
import { describe, expect, it } from 'vitest'
import { loadConfig, type LoadOptions } from '../../src/config/load.js'
import { cpuQuota, workerCount } from '../../src/cluster/count.js'
import { combineReadiness } from '../../src/cluster/primary.js'
import { shareTicketSecret, ticketKeysFor } from '../../src/tls/ticket-keys.js'
import type { CodedError } from '../../src/errors.js'

const GATEWAY = { MTLS_MENDER_BACKEND: 'https://mender.example.com', MTLS_MENDER_TOKEN: 'pat' }
const tunnel = (listen: string): string => JSON.stringify([{
  name: 't', mode: 'forward', listen, connect: 'controller.example.com:2021', cert: '/c', key: '/k', ca: '/a'
}])

function problems (opts: LoadOptions): string {
  try {
    loadConfig(opts)
  } catch (err) {
    return (err as CodedError).message
  }
  return ''
}

describe('worker count', () => {
  it('is 1 unless configured, a configured number as given', () => {
    expect(workerCount(loadConfig({ env: GATEWAY }), 8, undefined)).toEqual({ count: 1, reason: 'configured' })
    expect(workerCount(loadConfig({ env: { ...GATEWAY, MTLS_WORKERS: '3' } }), 8, undefined).count).toBe(3)
  })

  it('follows the cores with auto, capped by a CPU quota', () => {
    const c = loadConfig({ env: { ...GATEWAY, MTLS_WORKERS: 'auto' } })
    expect(workerCount(c, 4, undefined)).toEqual({ count: 4, reason: 'cores' })
    expect(workerCount(c, 16, 2)).toEqual({ count: 2, reason: 'cpu quota' })
  })

  it('keeps one process with auto when a tunnel listens on a Unix socket', () => {
    const c = loadConfig({ env: { MTLS_WORKERS: 'auto', MTLS_TUNNELS: tunnel('unix:/run/t.sock') } })
    expect(workerCount(c, 8, undefined)).toEqual({ count: 1, reason: 'single-owner listener' })
  })

  it('refuses an explicit count above 1 with a Unix-socket tunnel, and nonsense', () => {
    expect(problems({ env: { MTLS_WORKERS: '2', MTLS_TUNNELS: tunnel('unix:/run/t.sock') } }))
      .toMatch(/^invalid configuration:\n {2}- workers 2: tunnel t listens on a unix socket[^\n]*$/)
    expect(problems({ env: { MTLS_WORKERS: '2', MTLS_TUNNELS: tunnel('127.0.0.1:0') } })).toBe('')
    for (const bad of ['0', '-1', 'many', '1.5']) expect(problems({ env: { ...GATEWAY, MTLS_WORKERS: bad } })).toContain('workers (MTLS_WORKERS)')
  })

  it('reads cgroup v2 and v1 quotas', () => {
    const files = (m: Record<string, string>) => (p: string): string => {
      const text = m[p]
      if (text === undefined) throw new Error('ENOENT')
      return text
    }
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(2)
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined()
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(1)
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined()
    expect(cpuQuota(files({}))).toBeUndefined()
  })
})

describe('session-ticket keys', () => {
  it('agree for the same secret, trust and scope; differ when any of them changes', () => {
    const secret = Buffer.alloc(32, 7)
    shareTicketSecret(secret)
    const a = ticketKeysFor('digest-1', 'gateway')
    expect(a).toHaveLength(48)
    shareTicketSecret(Buffer.from(secret))
    expect(ticketKeysFor('digest-1', 'gateway').equals(a)).toBe(true)
    expect(ticketKeysFor('digest-2', 'gateway').equals(a)).toBe(false)
    expect(ticketKeysFor('digest-1', 'tunnel:t').equals(a)).toBe(false)
    shareTicketSecret(Buffer.alloc(32, 8))
    expect(ticketKeysFor('digest-1', 'gateway').equals(a)).toBe(false)
  })
})

describe('cluster readiness', () => {
  const ready = { ready: true, checks: { tls: { ok: true }, listener: { ok: true } } }
  it('is ready when every expected worker is', () => {
    const r = combineReadiness([{ worker: 1, ok: true, value: ready }, { worker: 2, ok: true, value: ready }], 2)
    expect(r).toEqual({ ready: true, checks: { tls: { ok: true }, listener: { ok: true }, workers: { ok: true, detail: '2 of 2 ready' } } })
  })

  it('is not ready when a worker fails a check, does not answer, or is missing', () => {
    const failing = { ready: false, checks: { tls: { ok: true }, listener: { ok: false, detail: 'mTLS listener not listening' } } }
    const r = combineReadiness([{ worker: 1, ok: true, value: ready }, { worker: 2, ok: true, value: failing }], 2)
    expect(r.ready).toBe(false)
    expect(r.checks.listener).toEqual({ ok: false, detail: 'worker 2: mTLS listener not listening' })
    expect(combineReadiness([{ worker: 1, ok: true, value: ready }, { worker: 2, ok: false, error: 'timeout' }], 2).ready).toBe(false)
    expect(combineReadiness([{ worker: 1, ok: true, value: ready }], 2).checks.workers).toEqual({ ok: false, detail: '1 of 2 ready' })
  })
})
