// Address parsing of the L4 tunnel: every accepted form, a clear problem for each bad one, and formatAddress
// round-trips; plus the LISTEN_* reading of systemd socket activation and passwd/group lookups.
import { describe, expect, it } from 'vitest'
import { formatAddress, parseAddress, type Address } from '../../src/net/address.js'
import { listenFds, pickFd, unsetListenEnv } from '../../src/net/systemd-fds.js'
import { lookupIdInFile, resolveId } from '../../src/net/unix-ids.js'

const value = (input: string, opts = {}): Address | string => {
  const r = parseAddress(input, opts)
  return r.ok ? r.value : r.problem
}

describe('parseAddress', () => {
  it.each([
    ['unix:/run/a.sock', { kind: 'unix', path: '/run/a.sock' }],
    ['/run/dbus/system_bus_socket', { kind: 'unix', path: '/run/dbus/system_bus_socket' }],
    ['/run/.hidden...sock', { kind: 'unix', path: '/run/.hidden...sock' }],
    ['tcp://example.com:443', { kind: 'tcp', host: 'example.com', port: 443 }],
    ['10.0.0.1:8443', { kind: 'tcp', host: '10.0.0.1', port: 8443 }],
    ['localhost:1', { kind: 'tcp', host: 'localhost', port: 1 }],
    ['[::1]:65535', { kind: 'tcp', host: '::1', port: 65535 }],
    ['[fe80::1%eth0]:80', { kind: 'tcp', host: 'fe80::1%eth0', port: 80 }],
    ['tcp://[2001:db8::2]:443', { kind: 'tcp', host: '2001:db8::2', port: 443 }],
    ['systemd:tunnel-front', { kind: 'inherited', name: 'tunnel-front' }],
    ['fd:3', { kind: 'inherited', fd: 3 }]
  ])('parses %s', (input, expected) => {
    expect(value(input)).toEqual(expected)
  })

  it('uses the default host for :port and accepts port 0 only when asked', () => {
    expect(value(':9000', { defaultHost: '127.0.0.1' })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9000 })
    expect(value('127.0.0.1:0', { allowPortZero: true })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 0 })
  })

  it.each([
    [42, 'address must be a string'],
    ['', 'address is empty'],
    [' /run/a.sock', 'leading or trailing whitespace'],
    ['unix:', 'unix socket path is empty'],
    ['unix:run/a.sock', "unix socket path must be absolute: 'run/a.sock'"],
    ['unix:@abstract', 'abstract unix sockets are not supported'],
    ['/run/../etc/a.sock', 'must be normalized'],
    ['/run//a.sock', 'must be normalized'],
    ['/run/a.sock/', 'must be normalized'],
    ['/run/./a.sock', 'must be normalized'],
    ['/run/a\nb', 'control character'],
    [`/${'x'.repeat(107)}`, 'unix socket path is 108 bytes; the limit is 107'],
    ['systemd:', 'systemd socket name is empty'],
    ['systemd:a:b', "without spaces or ':'"],
    ['systemd:a b', "without spaces or ':'"],
    ['fd:2', 'fd must be 3 or more'],
    ['fd:x', "fd must be a decimal number: 'x'"],
    ['fd:99999999999', 'fd is out of range'],
    ['http://example.com:80', "unsupported scheme 'http'"],
    ['example.com', "missing ':port'"],
    [':443', "empty host in ':443'"],
    ['example.com:', 'port is empty'],
    ['example.com:0', 'port 0 is out of range (1-65535)'],
    ['example.com:65536', 'port 65536 is out of range'],
    ['example.com:08', 'leading zero'],
    ['example.com:-1', "port must be a decimal number: '-1'"],
    ['example.com:1e3', 'port must be a decimal number'],
    ['::1:443', 'IPv6 addresses must be in brackets'],
    ['[::1:443', "missing ']'"],
    ['[::1]443', "missing ':port' after ']'"],
    ['[example.com]:443', 'not an IPv6 address inside brackets'],
    ['999.1.1.1:80', 'not a valid IPv4 address'],
    ['bad_host:80', "invalid host name: 'bad_host'"],
    ['-bad.example:80', 'invalid host name'],
    [`${'a'.repeat(64)}.example:80`, 'invalid host name'],
    [`${'a.'.repeat(127)}a:80`, 'longer than 253']
  ])('refuses %j: %s', (input, problem) => {
    const r = parseAddress(input)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(problem)
  })

  it.each([
    'unix:/run/a.sock', '127.0.0.1:443', '[::1]:443', 'example.com:8443', 'systemd:front', 'fd:7', '[fe80::1%eth0]:80'
  ])('formats %s canonically and parses it back', (text) => {
    const parsed = parseAddress(text)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    expect(formatAddress(parsed.value)).toBe(text)
    expect(parseAddress(formatAddress(parsed.value))).toEqual(parsed)
  })
})

describe('systemd LISTEN_* variables', () => {
  const env = { LISTEN_PID: '100', LISTEN_FDS: '3', LISTEN_FDNAMES: 'front:back:front2' }

  it('numbers the fds from 3 with their names; names default to "unknown"', () => {
    expect(listenFds(env, 100)).toEqual({
      ok: true, value: [{ fd: 3, name: 'front' }, { fd: 4, name: 'back' }, { fd: 5, name: 'front2' }]
    })
    expect(listenFds({ LISTEN_PID: '100', LISTEN_FDS: '1' }, 100))
      .toEqual({ ok: true, value: [{ fd: 3, name: 'unknown' }] })
  })

  it.each([
    [{}, 'LISTEN_FDS is not set'],
    [{ LISTEN_FDS: '1' }, 'LISTEN_PID is not set'],
    [{ LISTEN_FDS: '1', LISTEN_PID: '101' }, 'LISTEN_PID 101 is not this process (100)'],
    [{ LISTEN_FDS: '1', LISTEN_PID: ' 100' }, 'is not this process'],
    [{ LISTEN_FDS: '0', LISTEN_PID: '100' }, "LISTEN_FDS '0' is invalid"],
    [{ LISTEN_FDS: 'x', LISTEN_PID: '100' }, "LISTEN_FDS 'x' is invalid"],
    [{ LISTEN_FDS: '2', LISTEN_PID: '100', LISTEN_FDNAMES: 'one' }, 'LISTEN_FDNAMES has 1 names for 2 fds']
  ])('refuses %j', (e, problem) => {
    const r = listenFds(e, 100)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problem).toContain(problem)
  })

  it('picks by name, refusing unknown and duplicate names', () => {
    expect(pickFd({ kind: 'inherited', name: 'nope' }, env, 100)).toEqual({
      ok: false, problem: "no socket named 'nope' (LISTEN_FDNAMES has: front, back, front2)"
    })
    const dup = { LISTEN_PID: '100', LISTEN_FDS: '2', LISTEN_FDNAMES: 'x:x' }
    expect(pickFd({ kind: 'inherited', name: 'x' }, dup, 100))
      .toMatchObject({ ok: false, problem: expect.stringContaining('2 sockets are named') })
    expect(pickFd({ kind: 'inherited' }, env, 100)).toMatchObject({ ok: false })
  })

  it('unsets the three variables on request and nothing else', () => {
    const e: Record<string, string | undefined> = { ...env, PATH: '/bin' }
    unsetListenEnv(e)
    expect(e).toEqual({ PATH: '/bin' })
  })
})

describe('user and group ids', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nsvc:x:1234:99::/:/bin/false\nodd:x:notanumber:1::/:\n'

  it('finds names in passwd/group text, never a partial or malformed entry', () => {
    expect(lookupIdInFile(passwd, 'svc')).toBe(1234)
    expect(lookupIdInFile(passwd, 'sv')).toBeUndefined()
    expect(lookupIdInFile(passwd, 'odd')).toBeUndefined()
  })

  it('takes numbers and digit strings as ids and refuses invalid ones', async () => {
    expect(await resolveId(7, '/nonexistent', 'user')).toEqual({ ok: true, id: 7 })
    expect(await resolveId('7', '/nonexistent', 'user')).toEqual({ ok: true, id: 7 })
    expect(await resolveId(-1, '/nonexistent', 'user')).toMatchObject({ ok: false })
    expect(await resolveId(4294967295, '/nonexistent', 'group')).toMatchObject({ ok: false })
    expect(await resolveId('a:b', '/etc/passwd', 'user')).toMatchObject({ ok: false })
    expect(await resolveId('root', '/nonexistent', 'user'))
      .toMatchObject({ ok: false, problem: expect.stringContaining('cannot read') })
    expect(await resolveId('root', '/etc/passwd', 'user')).toEqual({ ok: true, id: 0 })
  })
})
