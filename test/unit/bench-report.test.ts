// The benchmark's pure parts: CPU accounting from /proc stat text, the process tree, medians, ratios and targets,
// wrk's output and scripts, and the SVG chart (well-formed XML, one bar per ratio).
import { describe, expect, it } from 'vitest'
import { ratioChart } from '../../bench/chart.js'
import { descendants, parseStat, statTicks } from '../../bench/cpu.js'
import {
  BARE, chartBars, evaluateTargets, GATEWAY, HAPROXY, median, NGINX, returnedPct, summarize,
  TUNNEL_HAPROXY, TUNNEL_OURS, TUNNEL_STUNNEL, type Measurement, type Results
} from '../../bench/results.js'
import { parseWrk, wrkScript } from '../../bench/wrk.js'
import { positiveSerial } from '../../bench/devices.js'

// pid, a name with a space and a ')' in it, then fields 3.. (state, ppid … utime(14) 250, stime 50, cutime 7,
// cstime 3 … rss(24) 1000)
const STAT = '4242 (node (worker) x) S 4000 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 11 0 12345 987654 1000 ' +
  '18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0'

describe('CPU accounting from /proc', () => {
  it('reads pid, ppid, user/system time of the process and its reaped children, and RSS', () => {
    const want = { pid: 4242, ppid: 4000, utime: 250, stime: 50, cutime: 7, cstime: 3, rssPages: 1000 }
    expect(parseStat(STAT)).toEqual(want)
    expect(statTicks(parseStat(STAT))).toBe(310)
  })

  it('refuses text that is not a stat line', () => {
    expect(() => parseStat('garbage')).toThrow(/stat/)
    expect(() => parseStat('1 (x) S 2')).toThrow(/field/)
  })

  it('finds a process and all its descendants, not its siblings', () => {
    const s = (pid: number, ppid: number): ReturnType<typeof parseStat> =>
      ({ pid, ppid, utime: 0, stime: 0, cutime: 0, cstime: 0, rssPages: 0 })
    const tree = descendants(10, [s(1, 0), s(10, 1), s(11, 10), s(12, 10), s(13, 12), s(20, 1), s(21, 20)])
    expect(tree.map((p) => p.pid).sort((a, b) => a - b)).toEqual([10, 11, 12, 13])
  })
})

const m = (target: string, scenario: Measurement['scenario'], serverCpuUs: number, round = 0): Measurement => ({
  scenario,
  target,
  round,
  serverCpuUs,
  clientCpuUs: 10,
  rps: 1000,
  p50Ms: 1,
  p99Ms: 2,
  requests: 1000,
  socketErrors: 0,
  statusErrors: 0,
  resumedPct: scenario === 'resume' ? 100 : NaN
})

function results (): Results {
  return {
    summaries: summarize([
      m(GATEWAY, 'get', 150, 0), m(GATEWAY, 'get', 90, 1), m(GATEWAY, 'get', 100, 2), m(HAPROXY, 'get', 60), m(NGINX, 'get', 50),
      m(GATEWAY, 'full', 3000), m(BARE, 'full', 2500), m(GATEWAY, 'resume', 1000), m(BARE, 'resume', 1000),
      m(GATEWAY, 'auth-warm', 700)
    ]),
    memory: [
      {
        target: GATEWAY,
        baselineKiB: 1000,
        levels: [{ connections: 1000, kibPerConnection: 30, rssKiB: 31_000, errors: 0 }],
        afterCloseKiB: 2000
      },
      {
        target: BARE,
        baselineKiB: 1000,
        levels: [{ connections: 1000, kibPerConnection: 20, rssKiB: 21_000, errors: 0 }],
        afterCloseKiB: 21_000
      }
    ],
    tunnel: [
      { name: TUNNEL_OURS, mibPerS: 100, cpuMsPerMib: 1, connPerS: 1, pairCpuUsPerConn: 1 },
      { name: TUNNEL_HAPROXY, mibPerS: 105, cpuMsPerMib: 1, connPerS: 1, pairCpuUsPerConn: 1 },
      { name: TUNNEL_STUNNEL, mibPerS: 200, cpuMsPerMib: 1, connPerS: 1, pairCpuUsPerConn: 1 }
    ],
    workers: { cores: 2, one: { rps: 1000, serverCpuUs: 100, cpuCores: 1 }, all: { rps: 1500, serverCpuUs: 110, cpuCores: 1.6, workers: 'auto' } }
  }
}

describe('ratios and targets', () => {
  it('takes medians over rounds (even counts average the middle two, NaN ignored)', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, NaN, 2, 3])).toBe(2.5)
    expect(median([])).toBeNaN()
    const gw = results().summaries.find((s) => s.target === GATEWAY && s.scenario === 'get')
    expect([gw?.serverCpuUs, gw?.perRound]).toEqual([100, [150, 90, 100]])
  })

  it('judges each target from the ratios, and leaves unmeasured ones open', () => {
    const byName = Object.fromEntries(evaluateTargets(results()).map((t) => [t.target, t]))
    expect(byName['keep-alive CPU/request ≤ 2× HAProxy']).toMatchObject({ value: 100 / 60, met: true })
    expect(byName['full-handshake CPU ≤ 1.1× bare Node']).toMatchObject({ value: 1.2, met: false })
    expect(byName['resumed handshakes 100 % resumed']?.met).toBe(true)
    expect(byName['resumed-handshake CPU ≤ 1.2× bare Node']).toMatchObject({ value: 1, met: true })
    expect(byName['auth request CPU ≤ 600 µs (warm)']).toMatchObject({ value: 700, met: false })
    expect(byName['idle memory per connection ≤ 1.2× bare Node']).toMatchObject({ value: 1.5, met: false })
    expect(byName['memory back to baseline after close']).toMatchObject({ value: (31_000 - 2000) / 30_000 * 100, met: true })
    expect(byName['tunnel bulk ≥ 0.9× HAProxy']?.met).toBe(true)
    expect(byName['tunnel bulk ≥ 0.9× stunnel']?.met).toBe(false)
    expect(byName['all workers ≥ 1.7× one worker (req/s)']).toMatchObject({ value: 1.5, met: false })
    const empty = evaluateTargets({ summaries: [], memory: [], tunnel: [] })
    expect(empty.every((t) => t.met === undefined)).toBe(true)
  })

  it('counts memory as returned only as far as RSS came back down', () => {
    const [gw, bare] = results().memory
    expect(gw !== undefined && returnedPct(gw)).toBeCloseTo(96.67, 1)
    expect(bare !== undefined && returnedPct(bare)).toBe(0)
  })
})

describe('wrk output and scripts', () => {
  it('reads the script\'s result line and the shim\'s handshake counts', () => {
    const r = parseWrk('Running 5s test\nWRK_RESULT 5000 5000000 1 2 3 4 5 1200 9800\n', 'handshakes 40\nresumed 36\n')
    const want = {
      requests: 5000, seconds: 5, socketErrors: 11, statusErrors: 4, p50Ms: 1.2, p99Ms: 9.8, handshakes: 40, resumed: 36
    }
    expect(r).toEqual(want)
  })

  it('fails loudly when wrk printed no result', () => {
    expect(() => parseWrk('unable to connect')).toThrow(/no result/)
  })

  it('writes each request into the rotation, strings quoted for Lua', () => {
    const s = wrkScript([{ method: 'POST', path: '/a', headers: { 'X-Sig': 'a"b' }, body: '{"k":"v\\n"}' },
      { method: 'GET', path: '/b', headers: {} }])
    expect(s).toContain('wrk.format("POST", "/a", { ["X-Sig"] = "a\\"b" }, "{\\"k\\":\\"v\\\\n\\"}")')
    expect(s).toContain('wrk.format("GET", "/b", {  }, nil)')
    expect(s).toMatch(/i = i % #reqs \+ 1/)
    expect(() => wrkScript([])).toThrow()
  })
})

/** Tags of an XML document balance (a small well-formedness check: no parser in the dependencies). */
function balanced (xml: string): boolean {
  const stack: string[] = []
  const tags = xml.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)
  for (const [, close, name, selfClose] of tags) {
    if (selfClose === '/') continue
    if (close === '/') { if (stack.pop() !== name) return false } else stack.push(name as string)
  }
  return stack.length === 0 && !/&(?!amp;|lt;|gt;|quot;)/.test(xml)
}

describe('ratio chart', () => {
  it('is well-formed SVG with one bar per ratio, labels escaped', () => {
    const bars = chartBars(results())
    expect(bars.map((b) => b.label)).toContain('keep-alive GET: CPU vs HAProxy')
    const svg = ratioChart([...bars, { label: 'a < b & c', value: 3, limit: 2 }], 'ratios')
    expect(svg.startsWith('<?xml')).toBe(true)
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"')
    expect(balanced(svg)).toBe(true)
    expect(svg.match(/<g class="bar">/g)?.length).toBe(bars.length + 1)
    expect(svg).toContain('a &lt; b &amp; c')
    expect(svg).toContain('fill="#c0392b"') // over its limit
  })
})

describe('bench device serials', () => {
  it('are positive minimal DER whatever the random bytes (no leading zero, no sign bit)', () => {
    for (const first of [0x00, 0x7f, 0x80, 0xff]) {
      const s = positiveSerial(Buffer.from([first, 0x05, 0x06]))
      expect([s[0] !== 0, ((s[0] ?? 0) & 0x80) === 0, s.subarray(1)]).toEqual([true, true, Buffer.from([0x05, 0x06])])
    }
  })
})
