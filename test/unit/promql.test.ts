// The PromQL parser the dashboard test relies on: metric names are told from functions, aggregations, label names,
// keywords and Grafana variables; malformed expressions are refused. And the preview's evaluator on known samples.
import { describe, expect, it } from 'vitest'
import { labelValuesExpr, metricNames, parsePromQL } from '../support/promql.js'
import { evaluate, parseExposition, SeriesStore } from '../../scripts/dashboard-preview/evaluate.js'

const names = (expr: string): string[] => metricNames(parsePromQL(expr))

describe('PromQL metric names', () => {
  it('reads the selector inside functions and aggregations, not the label names of by()', () => {
    expect(names('sum by (reason, route) (rate(mtls_requests_total{route="auth"}[5m]))')).toEqual(['mtls_requests_total'])
  })

  it('accepts the grouping after the aggregated expression', () => {
    expect(names('sum(rate(a_total[1m])) without (instance)')).toEqual(['a_total'])
  })

  it('reads both sides of binary operators, with bool and vector matching', () => {
    expect(names('a / on (instance) group_left (tenant) b > bool 0')).toEqual(['a', 'b'])
    expect(names('time() - max(mtls_reload_last_timestamp_seconds)')).toEqual(['mtls_reload_last_timestamp_seconds'])
  })

  it('takes Grafana variables in label values and ranges, and offsets', () => {
    expect(names('rate(x_bucket{job=~"$job",le!="+Inf"}[$__rate_interval] offset 5m)')).toEqual(['x_bucket'])
  })

  it('reads a __name__ matcher as a metric name', () => {
    expect(names('{__name__="mtls_open_connections", job="x"}')).toEqual(['mtls_open_connections'])
    expect(names('{__name__=~"a_total|b_total", job="x"}')).toEqual(['a_total', 'b_total'])
  })

  it('reads histogram_quantile\'s bucket series, not its number', () => {
    expect(names('histogram_quantile(0.99, sum by (le) (rate(d_bucket[5m])))')).toEqual(['d_bucket'])
  })

  it('refuses unknown functions, unbalanced parentheses, bad matchers and a variable as metric name', () => {
    for (const bad of ['rates(a[5m])', 'sum(rate(a[5m])', 'a{b}', '$metric', 'a +', 'sum by (x y']) {
      expect(() => parsePromQL(bad), bad).toThrow(/PromQL/)
    }
  })

  it('takes the expression out of a label_values() variable query', () => {
    expect(labelValuesExpr('label_values(up{job=~"$job"}, instance)')).toBe('up{job=~"$job"}')
    expect(labelValuesExpr('label_values(job)')).toBe('')
  })
})

describe('dashboard preview evaluator', () => {
  const store = new SeriesStore()
  const scrape = (t: number, count: number, fast: number): void => store.add(t, parseExposition([
    `c_total{k="a"} ${count}`, `c_total{k="b"} ${count * 2}`,
    `h_bucket{le="0.1"} ${fast}`, `h_bucket{le="1"} ${count}`, `h_bucket{le="+Inf"} ${count}`
  ].join('\n'), { instance: 'i' }))
  scrape(100, 0, 0)
  scrape(110, 10, 5)

  it('computes rate and sum by', () => {
    expect(evaluate('sum by (k) (rate(c_total[20s]))', store, 110, '20s')).toEqual([
      { labels: { k: 'a' }, value: 1 }, { labels: { k: 'b' }, value: 2 }
    ])
    expect(evaluate('sum(rate(c_total{k=~"$k"}[$__rate_interval]))', store, 110, '20s')).toEqual([{ labels: {}, value: 3 }])
  })

  it('interpolates histogram_quantile inside a bucket', () => {
    const [p50] = evaluate('histogram_quantile(0.5, sum by (le) (rate(h_bucket[20s])))', store, 110, '20s')
    expect(p50?.value).toBeCloseTo(0.1)
    const [p75] = evaluate('histogram_quantile(0.75, sum by (le) (rate(h_bucket[20s])))', store, 110, '20s')
    expect(p75?.value).toBeCloseTo(0.55)
  })

  it('subtracts a vector from time()', () => {
    expect(evaluate('time() - max(c_total)', store, 110, '20s')).toEqual([{ labels: {}, value: 90 }])
  })
})
