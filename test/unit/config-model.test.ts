// The configuration the modes read: sections (common, gateway, tunnels), lists as arrays whatever their spelling,
// addresses parsed once, the whole deep-frozen; Mender keys required only when the gateway runs; tunnel checks.
import { describe, expect, it } from 'vitest'
import { loadConfig, type LoadOptions } from '../../src/config/load.js'
import type { CodedError } from '../../src/errors.js'

const GATEWAY = { MTLS_MENDER_BACKEND: 'https://mender.example.com', MTLS_MENDER_TOKEN: 'pat' }

const reverse = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'dbus-controller',
  mode: 'reverse',
  listen: '0.0.0.0:2021',
  connect: 'unix:/run/bluechi/bluechi.sock',
  cert: '/etc/mtls/controller.crt',
  key: '/etc/mtls/controller.key',
  ca: '/etc/mtls/ca.pem',
  allow_cn: ['agent-1'],
  ...extra
})

const forward = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'dbus-agent',
  mode: 'forward',
  listen: 'unix:/run/bluechi/agent.sock',
  connect: 'controller.example.com:2021',
  cert: '/etc/mtls/agent.crt',
  key: '/etc/mtls/agent.key',
  ca: '/etc/mtls/ca.pem',
  ...extra
})

function problems (opts: LoadOptions): string[] {
  try {
    loadConfig(opts)
  } catch (err) {
    return (err as CodedError).message.split('\n').filter((l) => l.startsWith('  - '))
  }
  throw new Error('loadConfig accepted the configuration')
}

describe('sections', () => {
  it('puts the shared keys in common and the rest in gateway', () => {
    const c = loadConfig({ env: { ...GATEWAY, MTLS_LOG_LEVEL: 'warn', MTLS_BODY_LIMIT: '2048' } })
    expect(c.common.log_level).toBe('warn')
    expect(c.gateway?.body_limit).toBe(2048)
    expect(Object.keys(c.common).sort()).toEqual([
      'debug_log', 'log_level', 'reload_retry_interval', 'reload_watch', 'shutdown_timeout', 'status_listen', 'systemd', 'workers',
    ])
    expect(c.gateway).not.toHaveProperty('log_level')
    expect(c.tunnels).toEqual([])
  })

  it('parses listener addresses once', () => {
    const c = loadConfig({ env: { ...GATEWAY, MTLS_LISTEN: '127.0.0.1:9443', MTLS_STATUS_LISTEN: '9444' } })
    expect(c.gateway?.listen).toEqual({ host: '127.0.0.1', port: 9443 })
    expect(c.common.status_listen).toEqual({ host: '0.0.0.0', port: 9444 })
  })

  it('reads status_listen off as no status listener', () => {
    expect(loadConfig({ env: { ...GATEWAY, MTLS_STATUS_LISTEN: 'off' } }).common.status_listen).toBeUndefined()
  })

  it('turns comma-separated lists into arrays', () => {
    const env = { ...GATEWAY, MTLS_CRL_URLS: 'http://a/crl, http://b/crl', MTLS_SNI: 'A.example,b.example', MTLS_IDENTITY_BINDING_KEYS: 'mac' }
    const g = loadConfig({ env }).gateway
    expect([g?.crl_urls, g?.sni, g?.identity_binding_keys, g?.crl_paths]).toEqual([['http://a/crl', 'http://b/crl'], ['A.example', 'b.example'], ['mac'], []])
  })

  it('takes the same lists as YAML lists', () => {
    const overrides = { crl_urls: ['http://a/crl', 'http://b/crl'], sni: ['a.example'], identity_binding_keys: ['mac', 'serial'] }
    const g = loadConfig({ env: GATEWAY, overrides }).gateway
    expect([g?.crl_urls, g?.sni, g?.identity_binding_keys]).toEqual([['http://a/crl', 'http://b/crl'], ['a.example'], ['mac', 'serial']])
  })

  it('deep-freezes the result', () => {
    const c = loadConfig({ env: GATEWAY, overrides: { tenants: [{ name: 't', ca_pem: '/x.pem', mender_token: 'x', sni: ['t.example'] }] } })
    const g = c.gateway
    const parts = [c, c.common, g, g?.listen, g?.tenants, g?.tenants[0], g?.tenants[0]?.sni]
    expect(parts.map((p) => Object.isFrozen(p))).toEqual(parts.map(() => true))
    expect(() => { (c.gateway?.sni as string[]).push('x') }).toThrow(TypeError)
  })
})

describe('which modes run', () => {
  it('runs only tunnels when tunnels are configured and no Mender backend: no Mender keys needed', () => {
    const c = loadConfig({ env: {}, overrides: { tunnels: [reverse(), forward()] } })
    expect(c.gateway).toBeUndefined()
    expect(c.tunnels.map((t) => t.name)).toEqual(['dbus-controller', 'dbus-agent'])
  })

  it('runs the gateway beside tunnels when a Mender backend is set, and then checks its credentials', () => {
    expect(problems({ env: { MTLS_MENDER_BACKEND: 'https://m.example' }, overrides: { tunnels: [reverse()] } }))
      .toEqual([expect.stringMatching(/^ {2}- management credentials/)])
    expect(loadConfig({ env: GATEWAY, overrides: { tunnels: [reverse()] } }).gateway?.mender_backend).toBe('https://mender.example.com')
  })

  it('requires the Mender backend when nothing else is configured (drop-in behaviour)', () => {
    expect(problems({ env: {} })).toContain('  - mender_backend (MTLS_MENDER_BACKEND) is required')
  })

  it('reads tunnels from MTLS_TUNNELS as JSON', () => {
    expect(loadConfig({ env: { MTLS_TUNNELS: JSON.stringify([forward()]) } }).tunnels[0]?.mode).toBe('forward')
  })

  it('fills tunnel defaults (TLS 1.3, loopback forward listener, no close timeout)', () => {
    const t = loadConfig({ env: {}, overrides: { tunnels: [forward()] } }).tunnels[0]
    expect([t?.tls_min_version, t?.close_timeout, t?.unix_mode, t?.max_connections]).toEqual(['1.3', 0, '0660', 1000])
  })
})

describe('tunnel checks', () => {
  const tunnelProblems = (...tunnels: Array<Record<string, unknown>>): string[] =>
    problems({ env: {}, overrides: { tunnels } })

  it('lists every problem at once, naming the tunnel and the key', () => {
    const found = tunnelProblems(
      reverse({ listen: 'unix:relative', allow_cn: [] }),
      forward({ name: 'dbus-controller', connect: 'unix:/run/x.sock', allow_cn: ['x'] })
    )
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/tunnels\[0\] \(dbus-controller\)\.listen: unix socket path must be absolute/),
      expect.stringMatching(/tunnels\[0\] \(dbus-controller\): say who may connect/),
      expect.stringMatching(/tunnels\[1\] \(dbus-controller\): name dbus-controller is used twice/),
      expect.stringMatching(/tunnels\[1\] \(dbus-controller\)\.connect: a forward tunnel connects to a TLS host:port/),
      expect.stringMatching(/tunnels\[1\] \(dbus-controller\): allow_\* rules apply to reverse tunnels/)
    ]))
    expect(found).toHaveLength(5)
  })

  it.each([
    ['a reverse tunnel listening on a Unix socket', reverse({ listen: 'unix:/run/x.sock' }), /reverse tunnel listens with TLS on TCP/],
    ['an inherited connect address', reverse({ connect: 'systemd:x' }), /cannot be connected to/],
    ['allow_all beside rules', reverse({ allow_all: true }), /drop it or the allow_\* rules/],
    ['a bad SAN IP rule', reverse({ allow_ip: ['10.0.0.300'] }), /allow_ip: not an IP address/],
    ['a bad SPKI pin', reverse({ allow_spki_sha256: ['abc'] }), /not a hex SHA-256/],
    ['server_name on a reverse tunnel', reverse({ server_name: 'x' }), /server_name: applies to forward tunnels only/],
    ['PROXY protocol to a Unix target', reverse({ proxy_protocol: true }), /only a reverse tunnel to a TCP target/],
    ['PROXY protocol on a forward tunnel', forward({ proxy_protocol: true }), /only a reverse tunnel to a TCP target/],
    ['a port out of range', forward({ connect: 'controller:70000' }), /port 70000 is out of range/],
    ['an unknown key', forward({ surprise: 1 }), /unknown key|surprise|additional/i],
    ['a bad mode', forward({ mode: 'sideways' }), /tunnels/]
  ])('refuses %s', (_name, tunnel, pattern) => {
    expect(tunnelProblems(tunnel).join('\n')).toMatch(pattern)
  })

  it('refuses two tunnels on one listening address', () => {
    expect(tunnelProblems(reverse(), reverse({ name: 'other' })).join('\n')).toMatch(/0\.0\.0\.0:2021 is also the address of tunnel dbus-controller/)
  })

  it('accepts a SPKI pin written with colons, and allow_all alone', () => {
    const pin = 'ab:'.repeat(31) + 'ab'
    const load = (t: Record<string, unknown>): number =>
      loadConfig({ env: {}, overrides: { tunnels: [t] } }).tunnels.length
    expect(load(reverse({ allow_cn: [], allow_spki_sha256: [pin] }))).toBe(1)
    expect(load(reverse({ allow_cn: [], allow_all: true }))).toBe(1)
  })
})
