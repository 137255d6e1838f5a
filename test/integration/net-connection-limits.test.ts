// Connection caps over real sockets: total and per-source limits with reason codes, refusal before any TLS work,
// counts that go back down on close, detach, source grouping, and the setup deadline.
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { limitConnections, setupDeadline, sourceKey, type Refusal } from '../../src/net/connection-limits.js'
import { expectNoLeaks, outcome, resources, sleep } from '../support/net.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

async function listening (server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}
/** Connects and waits for the server's greeting, or for the socket's end/reset when it was refused. */
async function greeted (port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket, greeting: string }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress })
  socket.on('error', () => {})
  const greeting = await new Promise<string>((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString()))
    socket.once('close', () => resolve('refused'))
  })
  return { socket, greeting }
}

describe('limitConnections', () => {
  it('refuses beyond maxConnections with MTLS_ERR_CONN_LIMIT_TOTAL, and admits again once one closed', async () => {
    const before = resources()
    const refusals: Refusal[] = []
    const server = net.createServer((s) => s.write('hi'))
    const limiter = limitConnections(server, { maxConnections: 2, onRefused: (r) => refusals.push(r) })
    const port = await listening(server)
    const a = await greeted(port)
    const b = await greeted(port)
    expect([a.greeting, b.greeting, limiter.open]).toEqual(['hi', 'hi', 2])
    expect((await greeted(port)).greeting).toBe('refused')
    expect(refusals).toEqual([{ reason: 'MTLS_ERR_CONN_LIMIT_TOTAL', source: '127.0.0.1', open: 2, openFromSource: 2 }])
    a.socket.destroy()
    await sleep(50)
    expect(limiter.open).toBe(1)
    const c = await greeted(port)
    expect(c.greeting).toBe('hi')
    for (const s of [b.socket, c.socket]) s.destroy()
    await new Promise((resolve) => server.close(resolve))
    await expectNoLeaks(before)
  })

  it('refuses beyond maxPerSource with MTLS_ERR_CONN_LIMIT_SOURCE while other sources still get in', async () => {
    const refusals: Refusal[] = []
    const server = net.createServer((s) => s.write('hi'))
    const limiter = limitConnections(server, { maxPerSource: 1, onRefused: (r) => refusals.push(r) })
    const port = await listening(server)
    const first = await greeted(port, '127.0.0.1')
    expect((await greeted(port, '127.0.0.1')).greeting).toBe('refused')
    const other = await greeted(port, '127.0.0.2')
    expect(other.greeting).toBe('hi')
    expect(refusals.map((r) => [r.reason, r.source])).toEqual([['MTLS_ERR_CONN_LIMIT_SOURCE', '127.0.0.1']])
    expect([limiter.openFrom('127.0.0.1'), limiter.openFrom('127.0.0.2'), limiter.open]).toEqual([1, 1, 2])
    first.socket.destroy()
    other.socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('refuses before any TLS work: no handshake, no tlsClientError for the refused socket', async () => {
    let handshakes = 0
    let clientErrors = 0
    const server = tls.createServer({ key: pki.server.keyPem, cert: pki.server.chainPem }, (s) => { handshakes++; s.write('hi') })
    server.on('tlsClientError', () => { clientErrors++ })
    limitConnections(server, { maxConnections: 1 })
    const port = await listening(server)
    const connect = async (): Promise<string> => await new Promise((resolve) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem })
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      c.once('data', (d: Buffer) => resolve(d.toString()))
      kept.push(c)
    })
    const kept: tls.TLSSocket[] = []
    expect(await connect()).toBe('hi')
    expect(await connect()).toBe('ECONNRESET')
    await sleep(50)
    expect([handshakes, clientErrors]).toEqual([1, 0])
    for (const c of kept) c.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('detach() gives the server its own listeners back', async () => {
    const server = net.createServer((s) => s.write('hi'))
    const limiter = limitConnections(server, { maxConnections: 1 })
    limiter.detach()
    const port = await listening(server)
    const a = await greeted(port)
    const b = await greeted(port)
    expect([a.greeting, b.greeting]).toEqual(['hi', 'hi'])
    a.socket.destroy()
    b.socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('groups sources: IPv4 exactly (mapped IPv6 unmapped), IPv6 by /64, Unix and unknown peers as local', () => {
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1')
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe(sourceKey('2001:db8:1:2:bbbb::9'))
    expect(sourceKey('2001:db8:1:2::1')).toBe('20010db8000100020000000000000000/64')
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(sourceKey('2001:db8:1:2::1'))
    expect(sourceKey('2001:db8::1', 128)).toBe('20010db8000000000000000000000001/128')
    expect([sourceKey(undefined), sourceKey('')]).toEqual(['local', 'local'])
    expect(() => limitConnections(net.createServer(), { maxConnections: -1 })).toThrow(RangeError)
    expect(() => limitConnections(net.createServer(), { ipv6PrefixBits: 129 })).toThrow(RangeError)
  })
})

describe('setupDeadline', () => {
  it('destroys a connection that does not finish its TLS handshake in time, with MTLS_ERR_CONN_SETUP_TIMEOUT', async () => {
    const before = resources()
    const reasons: string[] = []
    const server = tls.createServer({ key: pki.server.keyPem, cert: pki.server.chainPem }, () => {})
    server.on('tlsClientError', () => {})
    server.prependListener('connection', (raw) => {
      const deadline = setupDeadline(raw, 200, (r) => reasons.push(r))
      server.once('secureConnection', () => deadline.done())
    })
    const port = await listening(server)
    const silent = net.connect({ port, host: '127.0.0.1' }) // never sends a ClientHello
    const started = Date.now()
    expect(await outcome(silent)).toBe('end')
    expect(Date.now() - started).toBeGreaterThanOrEqual(180)
    expect(reasons).toEqual(['MTLS_ERR_CONN_SETUP_TIMEOUT'])

    const ok = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem })
    await new Promise((resolve) => ok.once('secureConnect', resolve))
    await sleep(300)
    expect(ok.destroyed).toBe(false)
    expect(reasons).toHaveLength(1)
    ok.destroy()
    await new Promise((resolve) => server.close(resolve))
    await expectNoLeaks(before)
  })

  it('refuses a non-positive deadline', () => {
    expect(() => setupDeadline(new net.Socket(), 0)).toThrow(RangeError)
  })
})
