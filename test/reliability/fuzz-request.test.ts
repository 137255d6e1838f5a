// Fuzzing of what a device controls in a request besides the auth body: the request target and the headers. No
// target is ever read as an upstream other than the configured origin; dot segments, percent-encoding and backslashes
// never climb out of /api/devices nor reach the auth path under another spelling; non-canonical paths are refused;
// canonical ones pass unchanged. No header a proxy behind the gateway could read as the device's identity or as a
// hop-by-hop instruction ever reaches Mender, and the device's other headers pass as they were.
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { checkTarget } from '../../src/gateway/proxy/target.js'
import { HeaderRewriter, IDENTITY_HEADER } from '../../src/gateway/proxy/headers.js'
import { AUTH_PATH } from '../../src/gateway/mender/paths.js'
import type { PeerIdentity } from '../../src/tls/peer.js'
import { FuzzTally, outcome } from './support/fuzz.js'

const tally = new FuzzTally('fuzz-request')
afterAll(() => tally.write())

const BACKEND = new URL('https://mender.example.com:8443')

/** The path as a lenient server reads it: percent-decoded, `\` as `/`, dot segments resolved. */
function lenient (path: string): string {
  let decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
  decoded = decoded.replaceAll('\\', '/')
  try {
    return new URL(decoded, 'http://lenient.invalid').pathname
  } catch {
    return decoded
  }
}

const PIECES = ['v1', 'deployments', 'device', 'inventory', 'authentication', 'auth_requests', 'AUTH_REQUESTS', '.',
  '..', '%2e', '%2E%2e', '.%2e', '%2f', '%2F', '%5c', '%5C', '\\', '', ';x', 'a;b', '%00', '%09', '%41', '%7e', '%', '%g1',
  '%C3%A9', 'é', '~', 'a.', 'x..', '%20', ' ', '?', '#', '/', '//', '@', ':', 'api', 'devices', '%3b', '\u0000', '\t',
  'https:', '//evil.example', 'evil.example:443', '%ff', '%u002e']

/** Targets built from hostile pieces under and around /api/devices, and wholly random text. */
const target = fc.oneof(
  fc.tuple(fc.constantFrom('/api/devices/', '/', '', '//', '/api/', '\\', 'https://localhost/', 'http://x/', '*'),
    fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }), fc.constantFrom('', '/', '?a=1', '?%zz', '#f', '?x=/../'))
    .map(([head, pieces, tail]) => head + pieces.join(fc.sample(fc.constantFrom('/', '/', '', '\\'), 1)[0] ?? '/') + tail),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ maxLength: 60 }).map((s) => '/api/devices/' + s)
)

const CANONICAL = ['v1', 'deployments', 'device', 'inventory', 'attributes', 'next', 'a-b_c.d~e', 'x%C3%A9', "!$&'()*+,=:@",
  '123', 'A%2C']
const canonicalPath = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.tuple(fc.array(fc.constantFrom(...CANONICAL), { minLength: 1, maxLength: 6 }), fc.boolean())
      .map(([segs, slash]) => '/api/devices/' + segs.join('/') + (slash ? '/' : ''))
  },
  { weight: 1, arbitrary: fc.constant(AUTH_PATH) }
)

/** Spellings that are never canonical, each inserted as (part of) a segment. */
const POISON = ['.', '..', '%2e', '%2E', '.%2e', '%2e%2e', '%2f', '%2F', '%5c', '%5C', '\\', 'a\\b', '%41', '%7e', '%5F',
  '%00', '%20', '%09', '%', '%zz', 'x.', ';p', '%3b', ' ', '\u0000', '"', '<', '{', '|', '^', '`', 'é', '\u2024']

describe('request target fuzzing', () => {
  it('never yields an upstream other than the configured origin, nor a path out of what the target names', () => {
    tally.check('targets', target, (t) => {
      const got = outcome(() => checkTarget(t))
      if (got.kind !== 'value') throw new Error(`checkTarget threw on ${JSON.stringify(t)}`)
      const v = got.value
      if (!v.ok) return
      const upstream = new URL(v.path + v.query, BACKEND)
      expect(upstream.origin).toBe(BACKEND.origin)
      // WHATWG URL resolution changes nothing: no dot segment, backslash or encoded separator it would act on
      expect(upstream.pathname).toBe(v.path)
      expect(lenient(v.path)).toBe(lenient(upstream.pathname))
      if (t.startsWith('/')) expect(v.path + v.query).toBe(t)
      // a lenient reader stays where the path says: under /api/devices if the path is, never on the auth path
      if (v.path.startsWith('/api/devices/')) expect(lenient(v.path).startsWith('/api/devices/')).toBe(true)
      if (lenient(v.path).toLowerCase() === AUTH_PATH.toLowerCase()) expect(v.path).toBe(AUTH_PATH)
      expect(v.path).not.toMatch(/[\\#\s]|%2[eEfF]|%5[cC]/)
    }, 30_000)
  })

  it('passes every canonical path unchanged', () => {
    tally.check('canonical paths', fc.tuple(canonicalPath, fc.constantFrom('', '?a=1&b=%20', '?x=/y')), ([path, query]) => {
      expect(checkTarget(path + query)).toEqual({ ok: true, path, query })
    }, 10_000)
  })

  it('refuses every path holding a non-canonical segment, and spellings of the auth path as its alias', () => {
    const poisoned = fc.tuple(canonicalPath, fc.nat(), fc.constantFrom(...POISON), fc.boolean(), fc.boolean())
      .map(([path, at, poison, whole, empty]) => {
        const segs = path.split('/')
        const i = 1 + (at % (segs.length - 1))
        segs[i] = empty ? `${segs[i] ?? ''}/` : whole ? poison : `${segs[i] ?? ''}${poison}`
        return segs.join('/')
      })
    tally.check('non-canonical paths', poisoned, (path) => {
      const v = checkTarget(path)
      // `x/` mid-path makes an empty segment: refused like the rest (a trailing one is canonical)
      if (v.ok) expect(path.endsWith('/') && !path.slice(0, -1).includes('//')).toBe(true)
      else if (lenient(path).toLowerCase().replace(/\/$/, '') === AUTH_PATH.toLowerCase()) {
        expect(v.refusal).toBe('AUTH_PATH_ALIAS')
      }
    }, 15_000)
  })
})

const peer = { fingerprint: 'ab'.repeat(32), serial: '01', subject: 'CN=device "1"' } as unknown as PeerIdentity

/** Names that must never reach Mender from a device, each in several spellings. */
const HOSTILE = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-client-cert', 'forwarded',
  'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-original-url', 'x-rewrite-url', 'x-ssl-client-cert', 'ssl-client-verify',
  'x-client-cert', 'x-men-requestid', 'x-envoy-peer', 'x-amzn-mtls-clientcert', 'x-mtls-identity', 'connection',
  'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'expect', 'proxy-authorization']
const BENIGN = ['accept', 'content-type', 'authorization', 'user-agent', 'x-custom', 'x-men-signature', 'if-none-match']

const spelled = (name: string): fc.Arbitrary<string> => fc.constantFrom(name, name.toUpperCase(), name.replaceAll('-', '_'),
  name.replace(/^./, (c) => c.toUpperCase()))

const headerSet = (names: string[]): fc.Arbitrary<HeaderSet> => fc.record({
  hostile: fc.array(fc.tuple(fc.constantFrom(...names).chain(spelled), fc.string({ maxLength: 20 })), { maxLength: 6 }),
  benign: fc.uniqueArray(fc.tuple(fc.constantFrom(...BENIGN), fc.string({ maxLength: 20 })),
    { maxLength: 5, selector: (p) => p[0] }),
  listed: fc.uniqueArray(fc.constantFrom(...BENIGN), { maxLength: 2 }),
  identity: fc.boolean()
})
interface HeaderSet {
  hostile: Array<[string, string]>
  benign: Array<[string, string]>
  listed: string[]
  identity: boolean
}

describe('header fuzzing', () => {
  it('drops every identity-like and hop-by-hop header and sets only what the gateway vouches for', () => {
    tally.check('headers', headerSet(HOSTILE), (h) => {
      const headers: Record<string, string> = { host: 'localhost' }
      for (const [name, value] of h.benign) headers[name] = value
      for (const [name, value] of h.hostile) headers[name.toLowerCase()] = value
      const connection = [...h.listed, 'keep-alive'].join(', ')
      const out = new HeaderRewriter(h.identity).rewrite({ id: 'req-1', socket: { remoteAddress: '192.0.2.7' }, peer },
        { ...headers, connection }, connection) as Record<string, string>
      const expected: Record<string, string> = {
        host: 'localhost', 'x-men-requestid': 'req-1', 'x-forwarded-for': '192.0.2.7', 'x-forwarded-proto': 'https'
      }
      for (const [name, value] of h.benign) if (!h.listed.includes(name)) expected[name] = value
      if (h.identity) expected[IDENTITY_HEADER] = 'Hash=' + 'ab'.repeat(32) + ';Serial=01;Subject="CN=device \\"1\\""'
      expect(out).toEqual(expected)
    }, 10_000)
  })

  it('keeps the device order and spelling of raw upgrade headers, minus the dropped ones, with Host replaced', () => {
    // Connection and Upgrade themselves belong to an upgrade (the device's own ones are added below)
    const names = HOSTILE.filter((n) => n !== 'connection' && n !== 'upgrade')
    tally.check('raw upgrade headers', headerSet(names), (h) => {
      const upgrade = ['Connection', 'Upgrade', 'Upgrade', 'websocket']
      const raw = ['Host', 'evil.example', ...h.hostile.flat(), ...h.benign.flat(), ...upgrade]
      const out = new HeaderRewriter(false).rewriteRaw({ id: 'r', socket: { remoteAddress: '192.0.2.7' } }, raw, 'mender:443')
      const sent = out.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase())
      expect(out.slice(0, 2)).toEqual(['Host', 'mender:443'])
      expect(sent.filter((n) => n === 'host')).toHaveLength(1)
      expect(sent.filter((n) => n.startsWith('x-forwarded-'))).toEqual(['x-forwarded-for', 'x-forwarded-proto'])
      expect(out.slice(-6)).toEqual(['x-men-requestid', 'r', 'x-forwarded-for', '192.0.2.7', 'x-forwarded-proto', 'https'])
      expect(out.slice(2, -6)).toEqual([...h.benign.flat(), ...upgrade])
    }, 10_000)
  })
})
