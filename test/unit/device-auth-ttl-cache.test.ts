// Unit tests of the bounded expiring cache.
import { describe, expect, it } from 'vitest'
import { TtlCache } from '../../src/lib/ttl-cache.js'

function clock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('TtlCache', () => {
  it('returns a value just written', () => {
    const c = new TtlCache<string>(10, 1000)
    c.set('a', 'x')
    expect(c.get('a')).toBe('x')
  })

  it('returns undefined for an unknown key', () => {
    expect(new TtlCache<string>(10, 1000).get('a')).toBeUndefined()
  })

  it('keeps an entry until just before its TTL', () => {
    const t = clock()
    const c = new TtlCache<string>(10, 1000, t.now)
    c.set('a', 'x')
    t.advance(999)
    expect(c.get('a')).toBe('x')
  })

  it('expires an entry when its TTL is reached', () => {
    const t = clock()
    const c = new TtlCache<string>(10, 1000, t.now)
    c.set('a', 'x')
    t.advance(1000)
    expect(c.get('a')).toBeUndefined()
  })

  it('drops an expired entry on read', () => {
    const t = clock()
    const c = new TtlCache<string>(10, 1000, t.now)
    c.set('a', 'x')
    t.advance(1000)
    c.get('a')
    expect(c.size).toBe(0)
  })

  it('restarts the TTL when an entry is written again', () => {
    const t = clock()
    const c = new TtlCache<string>(10, 1000, t.now)
    c.set('a', 'x')
    t.advance(800)
    c.set('a', 'y')
    t.advance(800)
    expect(c.get('a')).toBe('y')
  })

  it('never returns anything with a TTL of 0', () => {
    const c = new TtlCache<string>(10, 0, () => 5)
    c.set('a', 'x')
    expect(c.get('a')).toBeUndefined()
  })

  it('never holds more than its maximum', () => {
    const c = new TtlCache<number>(3, 1000)
    for (let i = 0; i < 10; i++) c.set(`k${i}`, i)
    expect(c.size).toBe(3)
  })

  it('evicts the oldest written entry first', () => {
    const c = new TtlCache<number>(2, 1000)
    c.set('a', 1)
    c.set('b', 2)
    c.set('c', 3)
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual([undefined, 2, 3])
  })

  it('counts a rewrite as the newest entry', () => {
    const c = new TtlCache<number>(2, 1000)
    c.set('a', 1)
    c.set('b', 2)
    c.set('a', 10)
    c.set('c', 3)
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual([10, undefined, 3])
  })

  it('does not count a rewrite of a present key towards the bound', () => {
    const c = new TtlCache<number>(2, 1000)
    c.set('a', 1)
    c.set('b', 2)
    c.set('b', 3)
    expect([c.get('a'), c.get('b')]).toEqual([1, 3])
  })

  it('does not refresh an entry when it is read', () => {
    const c = new TtlCache<number>(2, 1000)
    c.set('a', 1)
    c.set('b', 2)
    c.get('a')
    c.set('c', 3)
    expect(c.get('a')).toBeUndefined()
  })
})
