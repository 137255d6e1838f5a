// Refusals of the tunnels over real sockets, each with its reason code in the log and nothing delivered to the
// target (the target counts what reaches it): client certificates outside the access rules (and each rule admitting
// its match), a foreign CA, revoked certificates (denylist and CRL, fresh and resumed), a server certificate with the
// wrong name or SAN URI, of another CA or revoked, plain TCP and HTTP to the TLS port, and a handshake that stalls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, X509Certificate } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeTestPki, type TestCert, type TestPki } from '../support/pki.js'
import { outcome } from '../support/net.js'
import {
  connected, echoServer, forwardTunnel, replaceFile, reverseTunnel, startTunnels, type EchoServer, type TunnelsHandle
} from '../support/tunnel.js'
import { eventually } from '../support/device.js'

let pki: TestPki
let target: EchoServer
let reverse: TunnelsHandle
let forward: TunnelsHandle
let certs: Record<'cn' | 'ou' | 'ouOther' | 'dns' | 'uri' | 'uriOther' | 'ip' | 'ipOther' | 'resumer' | 'crlResumer', TestCert>
let denylist: string
let crlPath: string

const spkiPin = (cert: TestCert): string => {
  const der = new X509Certificate(cert.certPem).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex')
}

beforeAll(async () => {
  pki = await makeTestPki()
  target = await echoServer()
  certs = {
    cn: await pki.device('agent-1'),
    ou: await pki.device('ou-member', 'ec', { subject: 'CN=ou-member, OU=bluechi-agents, O=test' }),
    ouOther: await pki.device('ou-other', 'ec', { subject: 'CN=ou-other, OU=others, O=test' }),
    dns: await pki.device('dns-member', 'ec', { dns: ['agent.example.org'] }),
    uri: await pki.device('uri-member', 'ec', { uris: ['spiffe://example.org/agent'] }),
    uriOther: await pki.device('uri-other', 'ec', { uris: ['spiffe://example.org/other'] }),
    ip: await pki.device('ip-member', 'ec', { ips: ['10.1.2.3'] }),
    ipOther: await pki.device('ip-other', 'ec', { ips: ['10.1.2.4'] }),
    resumer: await pki.device('resumer'),
    crlResumer: await pki.device('crl-resumer')
  }
  denylist = join(pki.dir, 'denylist.txt')
  await writeFile(denylist, `${pki.devices.rsa.serialHex}\n`)
  crlPath = (await pki.crl('root', [pki.devices.rsa.serialHex])).path
  const at = target.address
  reverse = await startTunnels([
    reverseTunnel(pki, at, { name: 'rule-cn', allow_all: false, allow_cn: ['agent-1'] }),
    reverseTunnel(pki, at, { name: 'rule-ou', allow_all: false, allow_ou: ['bluechi-agents'] }),
    reverseTunnel(pki, at, { name: 'rule-dns', allow_all: false, allow_dns: ['agent.example.org'] }),
    reverseTunnel(pki, at, { name: 'rule-uri', allow_all: false, allow_uri: ['spiffe://example.org/agent'] }),
    reverseTunnel(pki, at, { name: 'rule-ip', allow_all: false, allow_ip: ['10.1.2.3'] }),
    reverseTunnel(pki, at, { name: 'rule-spki', allow_all: false, allow_spki_sha256: [spkiPin(pki.devices.ed25519)] }),
    reverseTunnel(pki, at, { name: 'all' }),
    reverseTunnel(pki, at, { name: 'denylist', blacklist_path: denylist }),
    reverseTunnel(pki, at, { name: 'crl', crl_paths: [crlPath] }),
    reverseTunnel(pki, at, { name: 'stall', handshake_timeout: 300 })
  ], { reload_watch: false })
  const remote = reverse.address('all')
  const serverDenylist = join(pki.dir, 'server-denylist.txt')
  await writeFile(serverDenylist, `${pki.server.serialHex}\n`)
  const serverCrl = await pki.crl('server-revoked', [pki.server.serialHex])
  forward = await startTunnels([
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'revoked-server', blacklist_path: serverDenylist }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'crl-revoked-server', crl_paths: [serverCrl.path] }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'wrong-name', server_name: 'other.example' }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'wrong-uri', server_uri: 'spiffe://example.org/x' }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'foreign-server', ca: pki.foreign.certPath }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'right-name' })
  ], { reload_watch: false })
})

afterAll(async () => {
  await forward?.close()
  await reverse?.close()
  await target?.close()
  await pki?.cleanup()
})

interface Attempt { echoed: string, resumed: boolean, session?: Buffer, error?: string }

/** An mTLS client to a reverse tunnel: sends a payload as soon as its side of the handshake is done, then ends. */
async function attempt (tunnel: string, cert: TestCert, session?: Buffer): Promise<Attempt> {
  const [host, port] = [reverse.address(tunnel).replace(/:\d+$/, ''), Number(reverse.address(tunnel).split(':').pop())]
  return await new Promise((resolve) => {
    const options = { host, port, servername: 'localhost', ca: pki.root.certPem, cert: cert.chainPem, key: cert.keyPem }
    const s = tlsConnect({ ...options, ...(session !== undefined ? { session } : {}) })
    const got: Attempt = { echoed: '', resumed: false }
    s.on('session', (ticket: Buffer) => { got.session = ticket })
    s.on('secureConnect', () => {
      got.resumed = s.isSessionReused()
      s.end('payload')
    })
    s.on('data', (d: Buffer) => { got.echoed += d.toString() })
    s.on('error', (err: NodeJS.ErrnoException) => { got.error = err.code ?? err.message })
    s.on('close', () => resolve(got))
  })
}

/** Runs `act` and says what reached the target meanwhile. */
async function delivered (act: () => Promise<unknown>): Promise<{ accepted: number, bytes: number }> {
  const [accepted, bytes] = [target.accepted(), target.received()]
  await act()
  // anything on its way to the target would have arrived by now
  await new Promise((resolve) => setTimeout(resolve, 100))
  return { accepted: target.accepted() - accepted, bytes: target.received() - bytes }
}

/** Waits for a refusal line of `tunnel` with `code` beyond the first `from` such lines. */
async function refusedWith (
  h: TunnelsHandle, tunnel: string, code: string, from = 0
): Promise<Record<string, unknown>> {
  const lines = (): Array<Record<string, unknown>> => h.withCode(code).filter((l) => l.tunnel === tunnel)
  expect(await eventually(() => lines().length > from, 5000)).toBe(true)
  return lines()[from] as Record<string, unknown>
}

const count = (h: TunnelsHandle, tunnel: string, code: string): number =>
  h.withCode(code).filter((l) => l.tunnel === tunnel).length

async function expectRefused (tunnel: string, cert: TestCert, code: string, session?: Buffer): Promise<Attempt> {
  const before = count(reverse, tunnel, code)
  let result: Attempt | undefined
  const reached = await delivered(async () => { result = await attempt(tunnel, cert, session) })
  expect(reached).toEqual({ accepted: 0, bytes: 0 })
  expect(result?.echoed).toBe('')
  const line = await refusedWith(reverse, tunnel, code, before)
  expect(line.level).toBe('warn')
  return result as Attempt
}

async function expectAdmitted (tunnel: string, cert: TestCert, session?: Buffer): Promise<Attempt> {
  let result: Attempt | undefined
  const reached = await delivered(async () => { result = await attempt(tunnel, cert, session) })
  expect(reached).toEqual({ accepted: 1, bytes: 7 })
  expect(result?.echoed).toBe('payload')
  return result as Attempt
}

const DENIED = 'MTLS_ERR_TLS_ACCESS_DENIED'

describe('access rules of a reverse tunnel', () => {
  it('allow_cn admits its CN and refuses another', async () => {
    await expectAdmitted('rule-cn', certs.cn)
    await expectRefused('rule-cn', pki.devices.ec, DENIED)
    expect(await reverse.metric('mtls_tunnel_handshake_failures_total', { tunnel: 'rule-cn', reason: DENIED })).toBe(1)
    expect(await reverse.metric('mtls_tunnel_connections_total', { tunnel: 'rule-cn', result: 'refused' })).toBe(1)
  })

  it('allow_ou admits a member OU and refuses another OU and none', async () => {
    await expectAdmitted('rule-ou', certs.ou)
    await expectRefused('rule-ou', certs.ouOther, DENIED)
    await expectRefused('rule-ou', pki.devices.ec, DENIED)
  })

  it('allow_dns admits its SAN DNS name and refuses a certificate without it', async () => {
    await expectAdmitted('rule-dns', certs.dns)
    await expectRefused('rule-dns', certs.uri, DENIED)
  })

  it('allow_uri admits its SPIFFE ID and refuses another one', async () => {
    await expectAdmitted('rule-uri', certs.uri)
    await expectRefused('rule-uri', certs.uriOther, DENIED)
    // a CN spelled like the URI is no URI SAN
    await expectRefused('rule-uri', await pki.device('spiffe://example.org/agent'), DENIED)
  })

  it('allow_ip admits its SAN IP and refuses another', async () => {
    await expectAdmitted('rule-ip', certs.ip)
    await expectRefused('rule-ip', certs.ipOther, DENIED)
  })

  it('allow_spki_sha256 admits the pinned key and refuses other keys of the same CA', async () => {
    await expectAdmitted('rule-spki', pki.devices.ed25519)
    await expectRefused('rule-spki', pki.devices.ec, DENIED)
    const line = await refusedWith(reverse, 'rule-spki', DENIED)
    expect(line.device).toMatchObject({ cn: 'ec' })
  })
})

describe('certificates a reverse tunnel does not trust', () => {
  it('refuses a certificate of a foreign CA, and one of a fake CA with the root\'s name', async () => {
    await expectRefused('all', pki.devices.foreign, 'MTLS_ERR_TLS_UNKNOWN_CA')
    await expectRefused('all', pki.devices.fakeRoot, 'MTLS_ERR_TLS_UNKNOWN_CA')
    await expectAdmitted('all', pki.devices.ec)
  })

  it('refuses an expired certificate', async () => {
    await expectRefused('all', pki.devices.expired, 'MTLS_ERR_TLS_CERT_EXPIRED')
  })

  // A reload gives the listener fresh session-ticket keys, so the saved session of a certificate revoked live is no
  // longer resumed: it is refused in a full handshake (the guard also checks resumed sessions, as defence in depth).
  it('refuses a denylisted certificate, and one revoked live also when it offers its saved session', async () => {
    await expectRefused('denylist', pki.devices.rsa, 'MTLS_ERR_TLS_REVOKED')
    const first = await expectAdmitted('denylist', certs.resumer)
    const resumed = await expectAdmitted('denylist', certs.resumer, first.session)
    expect(resumed.resumed).toBe(true)
    await replaceFile(denylist, `${pki.devices.rsa.serialHex}\n${certs.resumer.serialHex}\n`)
    const results = await reverse.running.reload('test')
    expect(results.filter((r) => r.changed)).toHaveLength(1)
    await expectRefused('denylist', certs.resumer, 'MTLS_ERR_TLS_REVOKED', resumed.session ?? first.session)
    await expectRefused('denylist', certs.resumer, 'MTLS_ERR_TLS_REVOKED')
    await expectAdmitted('denylist', pki.devices.ec)
  })

  it('refuses a certificate its issuer\'s CRL lists, and one revoked live also when it offers its saved session',
    async () => {
      await expectRefused('crl', pki.devices.rsa, 'MTLS_ERR_TLS_REVOKED')
      const first = await expectAdmitted('crl', certs.crlResumer)
      const resumed = await expectAdmitted('crl', certs.crlResumer, first.session)
      expect(resumed.resumed).toBe(true)
      await pki.crl('root', [pki.devices.rsa.serialHex, certs.crlResumer.serialHex])
      expect((await reverse.running.reload('test')).filter((r) => r.changed)).toHaveLength(1)
      await expectRefused('crl', certs.crlResumer, 'MTLS_ERR_TLS_REVOKED', resumed.session ?? first.session)
      await expectRefused('crl', certs.crlResumer, 'MTLS_ERR_TLS_REVOKED')
      await expectAdmitted('crl', pki.devices.ec)
    })
})

/** A plain client of a forward tunnel: writes a payload at once; resolves with what it got and how it ended. */
async function throughForward (tunnel: string): Promise<{ echoed: string, end: string }> {
  const s = await connected(forward.address(tunnel))
  let echoed = ''
  s.on('data', (d: Buffer) => { echoed += d.toString() })
  s.write('payload')
  return { echoed, end: await outcome(s) }
}

describe('servers a forward tunnel does not trust', () => {
  it.each([
    ['wrong-name', 'MTLS_ERR_TLS_SERVER_NAME'],
    ['wrong-uri', 'MTLS_ERR_TLS_SERVER_NAME'],
    ['foreign-server', 'MTLS_ERR_TLS_UNKNOWN_CA'],
    ['revoked-server', 'MTLS_ERR_TLS_REVOKED'],
    ['crl-revoked-server', 'MTLS_ERR_TLS_REVOKED']
  ])('%s: closes the client, logs %s, delivers nothing', async (tunnel, code) => {
    const before = count(forward, tunnel, code)
    let got: { echoed: string, end: string } | undefined
    expect(await delivered(async () => { got = await throughForward(tunnel) })).toEqual({ accepted: 0, bytes: 0 })
    expect(got?.echoed).toBe('')
    const line = await refusedWith(forward, tunnel, code, before)
    expect(line).toMatchObject({ event: 'tunnel_connection', level: 'warn' })
    expect(await forward.metric('mtls_tunnel_handshake_failures_total', { tunnel, reason: code })).toBeGreaterThan(0)
  })

  it('carries the same connection when the name is right', async () => {
    const s = await connected(forward.address('right-name'))
    let echoed = ''
    s.on('data', (d: Buffer) => { echoed += d.toString() })
    s.end('payload')
    expect(await outcome(s)).toBe('end')
    expect(echoed).toBe('payload')
  })
})

/** A plain TCP client of a reverse tunnel's TLS port: sends `bytes` (if any) and waits until the tunnel closes it. */
async function plain (tunnel: string, bytes?: string): Promise<{ end: string, answer: string }> {
  const s: Socket = netConnect({ host: '127.0.0.1', port: Number(reverse.address(tunnel).split(':').pop()) })
  let answer = ''
  s.on('data', (d: Buffer) => { answer += d.toString('latin1') })
  await new Promise((resolve) => s.once('connect', resolve))
  if (bytes !== undefined) s.write(bytes)
  return { end: await outcome(s), answer }
}

describe('what is not TLS at all', () => {
  it.each([
    ['plain TCP', 'hello, is this the controller?\n', 'MTLS_ERR_TLS_PROTOCOL', 'ERR_SSL_WRONG_VERSION_NUMBER'],
    ['plain HTTP', 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'MTLS_ERR_TLS_HANDSHAKE', 'ERR_SSL_HTTP_REQUEST']
  ])('%s to the TLS port: closed, coded, nothing delivered', async (_what, bytes, code, tlsError) => {
    const lines = (): number => reverse.logs.filter((l) => l.tunnel === 'all' && l.msg === 'tls handshake failed').length
    const before = lines()
    let got: { end: string, answer: string } | undefined
    expect(await delivered(async () => { got = await plain('all', bytes) })).toEqual({ accepted: 0, bytes: 0 })
    expect(got?.answer).not.toContain('HTTP/1.1 200')
    expect(await eventually(() => lines() > before)).toBe(true)
    const line = reverse.logs.filter((l) => l.tunnel === 'all' && l.msg === 'tls handshake failed')[before]
    expect(line).toMatchObject({ code, tlsError })
  })

  it('closes a handshake that stalls after handshake_timeout, coded, nothing delivered', async () => {
    const code = 'MTLS_ERR_TLS_HANDSHAKE'
    const before = count(reverse, 'stall', code)
    const started = Date.now()
    let got: { end: string } | undefined
    // a TLS record header announcing a ClientHello that never comes
    expect(await delivered(async () => { got = await plain('stall', '\x16\x03\x01\x02\x00') })).toEqual({ accepted: 0, bytes: 0 })
    expect(got?.end).toBeDefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    const line = await refusedWith(reverse, 'stall', code, before)
    expect(line.tlsError).toBe('ERR_TLS_HANDSHAKE_TIMEOUT')
    // and one that sends nothing at all
    await plain('stall')
    expect((await refusedWith(reverse, 'stall', code, before + 1)).tlsError).toBe('ERR_TLS_HANDSHAKE_TIMEOUT')
  })
})
