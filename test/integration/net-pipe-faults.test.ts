// The tunnel's byte pipe when things go wrong: idle and close timeouts, peers that reset mid-stream, never read,
// close during connect or push after their end; exact stats, one onClose, and no socket or timer left behind.
import net from 'node:net'
import tls from 'node:tls'
import { Duplex, PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { pipeSockets, type PipeStats } from '../../src/net/pipe.js'
import {
  connectTo, dialEndpoint, echo, expectNoLeaks, outcome, pipeProxy, receiveHashed, resources, serve, sleep
} from '../support/net.js'
import { makeTestPki } from '../support/pki.js'

describe('pipeSockets timeouts', () => {
  it('destroys both sockets after idleTimeoutMs without a byte either way, not while bytes trickle', async () => {
    const before = resources()
    const backend = await serve('tcp', undefined, echo)
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined, { idleTimeoutMs: 300 })
    const client = await connectTo(proxy.endpoint)
    const clientClosed = outcome(client)
    let quietFrom = 0
    for (let i = 0; i < 8; i++) { client.write('x'); quietFrom = Date.now(); await sleep(100) }
    expect(proxy.stats).toHaveLength(0)
    const [stats] = await proxy.closed(1)
    expect(stats).toMatchObject({ reason: 'idle_timeout', bytesAtoB: 8, bytesBtoA: 8 })
    expect(Date.now() - quietFrom).toBeGreaterThanOrEqual(250)
    expect(stats?.durationMs).toBeGreaterThanOrEqual(1000)
    await clientClosed
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('gives the other direction closeTimeoutMs once one has ended, then destroys both', async () => {
    const before = resources()
    const backend = await serve('tcp', undefined, (s) => { s.on('data', () => {}); s.on('error', () => {}) })
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined, { closeTimeoutMs: 300 })
    const client = await connectTo(proxy.endpoint)
    const clientClosed = outcome(client)
    const ended = Date.now()
    client.end('done')
    const [stats] = await proxy.closed(1)
    expect(stats).toMatchObject({ reason: 'close_timeout', bytesAtoB: 4 })
    expect(Date.now() - ended).toBeGreaterThanOrEqual(280)
    await clientClosed
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('has no close timeout by default: a half-open tunnel lives on (socat cuts it after 0.5 s)', async () => {
    const backend = await serve('tcp', undefined, (s) => {
      s.resume()
      s.on('end', () => setTimeout(() => s.end('answer'), 1200))
    })
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined)
    const client = await connectTo(proxy.endpoint)
    const got = receiveHashed(client)
    client.end('question')
    expect((await got).bytes).toBe(6)
    expect((await proxy.closed(1))[0]?.reason).toBe('both_ended')
    await proxy.close()
    await backend.close()
  })
})

describe('pipeSockets errors', () => {
  it('a backend reset mid-stream destroys both; the TCP client sees a reset, not a clean end', async () => {
    const before = resources()
    const backend = await serve('tcp', undefined, (s) => { s.once('data', () => s.resetAndDestroy()) })
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined)
    const client = await connectTo(proxy.endpoint)
    const seen = outcome(client)
    client.write(Buffer.alloc(1024))
    expect((await proxy.closed(1))[0]?.reason).toBe('error_b:ECONNRESET')
    expect(await seen).toBe('ECONNRESET')
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('a client reset mid-stream destroys both; the backend sees the reset', async () => {
    const before = resources()
    let backendOutcome: Promise<string> | undefined
    const backend = await serve('tcp', undefined, (s) => { backendOutcome = outcome(s) })
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined)
    const client = await connectTo(proxy.endpoint)
    client.write(Buffer.alloc(4096))
    await sleep(50)
    client.resetAndDestroy()
    expect((await proxy.closed(1))[0]?.reason).toBe('error_a:ECONNRESET')
    expect(await backendOutcome).toBe('ECONNRESET')
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('a backend that never reads and a client that keeps writing end in the idle timeout, nothing left', async () => {
    const before = resources()
    const backend = await serve('unix', undefined, (s) => { s.pause() })
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined, { idleTimeoutMs: 400 })
    const client = await connectTo(proxy.endpoint)
    client.on('error', () => {})
    const big = Buffer.alloc(1 << 20)
    const writer = setInterval(() => { if (!client.destroyed) client.write(big) }, 5)
    const [stats] = await proxy.closed(1)
    clearInterval(writer)
    expect(stats?.reason).toBe('idle_timeout')
    client.destroy()
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('a client that closes while the backend is still connecting leaves no socket behind', async () => {
    const before = resources()
    const target = await serve('tcp', undefined, (s) => { s.on('error', () => {}) })
    const a = new net.Socket()
    // connecting until a later turn of the event loop: the client goes before the connection is made
    const b = net.connect({ host: '127.0.0.1', port: target.endpoint.port ?? 0, allowHalfOpen: true })
    b.on('error', () => {})
    const stats: PipeStats[] = []
    pipeSockets(a, b, { onClose: (s) => stats.push(s) })
    a.destroy()
    await new Promise((resolve) => b.once('close', resolve))
    await sleep(20)
    expect(stats).toHaveLength(1)
    expect(stats[0]?.reason).toBe('a_closed')
    expect(b.connecting || b.destroyed).toBe(true)
    await target.close()
    await expectNoLeaks(before)
  })
})

describe('pipeSockets bookkeeping', () => {
  it('reports exact byte counts each way and a duration, once', async () => {
    const backend = await serve('tcp', undefined, (s) => {
      s.on('data', () => {})
      s.on('end', () => setTimeout(() => s.end(Buffer.alloc(12345)), 100))
    })
    let calls = 0
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined, { onClose: () => { calls++ } })
    const client = await connectTo(proxy.endpoint)
    const got = receiveHashed(client)
    client.end(Buffer.alloc(1000))
    expect((await got).bytes).toBe(12345)
    const [stats] = await proxy.closed(1)
    expect(stats).toMatchObject({ bytesAtoB: 1000, bytesBtoA: 12345, reason: 'both_ended' })
    expect(stats?.durationMs).toBeGreaterThanOrEqual(90)
    proxy.pipes[0]?.destroy()
    await sleep(50)
    expect(calls).toBe(1)
    await proxy.close()
    await backend.close()
  })

  it('destroy() ends a live tunnel with reason shutdown (or the one given), onClose once', async () => {
    const before = resources()
    const backend = await serve('tcp', undefined, echo)
    let calls = 0
    const proxy = await pipeProxy('tcp', backend.endpoint, undefined, { onClose: () => { calls++ } })
    const client = await connectTo(proxy.endpoint)
    const seen = outcome(client)
    client.write('hello')
    await new Promise((resolve) => client.once('data', resolve))
    proxy.pipes[0]?.destroy()
    proxy.pipes[0]?.destroy('reload')
    const stats = await proxy.pipes[0]?.closed
    expect(stats).toMatchObject({ reason: 'shutdown', bytesAtoB: 5, bytesBtoA: 5 })
    await seen
    expect(calls).toBe(1)
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  })

  it('makes sockets created without allowHalfOpen half-close anyway (TCP and TLS), as it sets it itself', async () => {
    for (const kind of ['tcp', 'tls'] as const) {
      const pki = kind === 'tls' ? await makeTestPki() : undefined
      const backend = await serve(kind, pki, (s) => { s.resume(); s.on('end', () => setTimeout(() => s.end('late'), 200)) })
      const front = kind === 'tls'
        ? tls.createServer({ key: pki?.server.keyPem, cert: pki?.server.chainPem }, (a) => {
          pipeSockets(a, dialEndpoint(backend.endpoint, pki))
        })
        : net.createServer((a) => { pipeSockets(a, net.connect({ port: backend.endpoint.port ?? 0, host: '127.0.0.1' })) })
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
      const client = await connectTo({ kind, port: (front.address() as net.AddressInfo).port }, pki)
      const got = receiveHashed(client)
      client.end('question')
      expect((await got).bytes).toBe(4)
      await new Promise((resolve) => front.close(resolve))
      await backend.close()
      await pki?.cleanup()
    }
  })

  it('a stream that pushes after its end is an error on its side and destroys the other', async () => {
    const a = new Duplex({ read () {}, write (_c, _e, cb) { cb() } })
    const b = new PassThrough()
    const pipe = pipeSockets(a, b)
    a.push('x')
    a.push(null)
    a.push('after end')
    const stats = await pipe.closed
    expect(stats.reason).toBe('error_a:ERR_STREAM_PUSH_AFTER_EOF')
    expect(b.destroyed).toBe(true)
  })

  it('a socket already destroyed when piped ends the tunnel at once', async () => {
    const a = new PassThrough()
    const b = new PassThrough()
    a.destroy()
    const stats = await pipeSockets(a, b).closed
    expect(stats.reason).toBe('a_closed')
    expect(b.destroyed).toBe(true)
  })

  it('refuses negative or fractional timeouts', () => {
    expect(() => pipeSockets(new PassThrough(), new PassThrough(), { idleTimeoutMs: -1 })).toThrow(RangeError)
    expect(() => pipeSockets(new PassThrough(), new PassThrough(), { closeTimeoutMs: 1.5 })).toThrow(RangeError)
  })
})
