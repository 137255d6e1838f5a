import { describe, expect, it } from 'vitest'
import { Faults, faultConfigProblems } from '../../src/tools/simulator/faults.js'

describe('simulator faults', () => {
  it('fails exactly the next N requests of a group', () => {
    const f = new Faults()
    f.failNext('login', 503, 2)
    expect([f.take('login'), f.take('login'), f.take('login')].map((a) => a.kind)).toEqual(['fail', 'fail', 'none'])
  })

  it('does not fail requests of other groups', () => {
    const f = new Faults()
    f.failNext('login', 503, 1)
    expect(f.take('preauth').kind).toBe('none')
  })

  it('drops before failing when both are pending', () => {
    const f = new Faults()
    f.failNext('device', 500, 1)
    f.dropNext('device', 1)
    expect([f.take('device').kind, f.take('device').kind]).toEqual(['drop', 'fail'])
  })

  it('merges updates per group', () => {
    const f = new Faults()
    f.latency('login', 10)
    f.update({ latencyMs: { device: 20 } })
    expect(f.get().latencyMs).toEqual({ login: 10, device: 20 })
  })

  it('replaces the whole configuration with set', () => {
    const f = new Faults()
    f.latency('login', 10)
    f.set({ drop: { preauth: 1 } })
    expect(f.get()).toEqual({ drop: { preauth: 1 } })
  })

  it('returns a copy that cannot change the live configuration', () => {
    const f = new Faults()
    f.latency('login', 10)
    f.get().latencyMs!.login = 99
    expect(f.latencyOf('login')).toBe(10)
  })

  it('accepts a valid JSON configuration', () => {
    expect(faultConfigProblems({
      latencyMs: { login: 5 },
      fail: { preauth: { status: 503, count: 1 } },
      drop: { device: 2 },
      tokenLifetimeSec: { user: 0 }
    })).toEqual([])
  })

  it.each([
    [{ latencyMs: { nowhere: 5 } }],
    [{ fail: { login: { status: 200, count: 1 } } }],
    [{ drop: { login: -1 } }],
    [{ tokenLifetimeSec: { admin: 1 } }],
    [{ surprise: true }],
    [[]]
  ])('reports problems in %j', (config) => {
    expect(faultConfigProblems(config).length).toBeGreaterThan(0)
  })
})
