// The scenarios' request ledger counts what it names: one expected answer per request, errors, wrong and duplicate
// answers, requests left unanswered, and nearest-rank latency percentiles.
import { describe, expect, it } from 'vitest'
import { Ledger, percentile } from './support/ledger.js'

describe('request ledger', () => {
  it('is complete only when every request got exactly one expected answer', async () => {
    const l = new Ledger('t')
    await l.run('a', async () => 200, (s) => s === 200 || `status ${s}`)
    await l.run('b', async () => 200, (s) => s === 200 || `status ${s}`)
    expect(l.complete()).toBe(true)
    expect(l.summary()).toMatchObject({ sent: 2, answered: 2, errors: 0, wrong: 0, duplicates: 0, unanswered: 0 })
  })

  it('counts wrong answers, failures, duplicates and unanswered requests', async () => {
    const l = new Ledger('t')
    await l.run('wrong', async () => 500, (s) => s === 200 || `status ${s}`)
    await l.run('failed', async () => { throw Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }, () => true)
    const twice = l.begin('twice')
    twice.answer()
    twice.answer()
    l.begin('open')
    expect(l.summary()).toMatchObject({ sent: 4, answered: 2, errors: 1, wrong: 1, duplicates: 1, unanswered: 1 })
    expect(l.complete()).toBe(false)
    expect(l.problems.join('\n')).toContain('ECONNRESET')
    expect(() => l.begin('open')).toThrow(/entered twice/)
  })

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(values, 99)).toBe(99)
    expect(percentile(values, 50)).toBe(50)
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([], 99)).toBe(0)
  })
})
