// The tunnel's byte pipe over real sockets (TCP, Unix, TLS 1.3 with client certificates on both hops): integrity of
// large, full-duplex and tiny transfers, half-close each way, back-pressure, timeouts, errors and stats.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestPki, type TestPki } from '../support/pki.js'
import {
  connectTo, echo, expectNoLeaks, pipeProxy, receiveHashed, resources, sendHashed, serve, sleep, type Kind
} from '../support/net.js'

const MiB = 1024 * 1024
let pki: TestPki

beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

async function withEcho<T> (kind: Kind, run: (proxy: Awaited<ReturnType<typeof pipeProxy>>) => Promise<T>): Promise<T> {
  const before = resources()
  const backend = await serve(kind, pki, echo)
  const proxy = await pipeProxy(kind, backend.endpoint, pki)
  try {
    return await run(proxy)
  } finally {
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  }
}

describe.each(['tcp', 'unix', 'tls'] as const)('pipeSockets over %s', (kind) => {
  it('carries 64 MiB each way intact with a half-close right after the last byte: the echo arrives whole, then EOF',
    async () => {
      await withEcho(kind, async (proxy) => {
        const client = await connectTo(proxy.endpoint, pki)
        const received = receiveHashed(client)
        const sent = await sendHashed(client, 64 * MiB, { sizes: () => 1 + Math.floor(Math.random() * 131072) })
        expect(await received).toEqual(sent)
        const [stats] = await proxy.closed(1)
        expect(stats).toMatchObject({ bytesAtoB: 64 * MiB, bytesBtoA: 64 * MiB, reason: 'both_ended' })
      })
    }, 90_000)

  it('carries 24 MiB full duplex, both sides sending at once', async () => {
    const before = resources()
    const fromServer: Array<Promise<unknown>> = []
    const backend = await serve(kind, pki, (s) => {
      fromServer.push(Promise.all([sendHashed(s, 24 * MiB), receiveHashed(s)]))
    })
    const proxy = await pipeProxy(kind, backend.endpoint, pki)
    const client = await connectTo(proxy.endpoint, pki)
    const [clientSent, clientGot] = await Promise.all([sendHashed(client, 24 * MiB), receiveHashed(client)])
    const [serverSent, serverGot] = await fromServer[0] as [unknown, unknown]
    expect(clientGot).toEqual(serverSent)
    expect(serverGot).toEqual(clientSent)
    expect((await proxy.closed(1))[0]).toMatchObject({ bytesAtoB: 24 * MiB, bytesBtoA: 24 * MiB, reason: 'both_ended' })
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  }, 90_000)

  it('carries tiny writes (1 byte, then every odd size up to 2039) intact', async () => {
    await withEcho(kind, async (proxy) => {
      const client = await connectTo(proxy.endpoint, pki)
      const received = receiveHashed(client)
      let size = -1
      const sent = await sendHashed(client, 1 + 1020 * 1020, { sizes: () => size < 0 ? (size = 1) : (size += 2) })
      expect(await received).toEqual(sent)
      expect((await proxy.closed(1))[0]?.reason).toBe('both_ended')
    })
  }, 30_000)

  it('answers 200 one-byte ping-pongs in order', async () => {
    await withEcho(kind, async (proxy) => {
      const client = await connectTo(proxy.endpoint, pki)
      const started = Date.now()
      for (let i = 0; i < 200; i++) {
        const reply = new Promise<Buffer>((resolve) => client.once('data', resolve))
        client.write(Buffer.from([i % 256]))
        expect([...await reply]).toEqual([i % 256])
      }
      const elapsed = Date.now() - started
      client.end()
      await new Promise((resolve) => client.once('close', resolve))
      expect((await proxy.closed(1))[0]).toMatchObject({ bytesAtoB: 200, bytesBtoA: 200, reason: 'both_ended' })
      // Nagle + delayed ACK would cost ~40 ms a round trip; the pipe turns Nagle off on both sockets
      expect(elapsed).toBeLessThan(4000)
    })
  }, 30_000)

  it('keeps b→a flowing for 1.5 s after a half-closed, and a→b flowing after b half-closed', async () => {
    const before = resources()
    const backend = await serve(kind, pki, (s) => {
      s.on('error', () => {})
      let got = ''
      s.on('data', (d: Buffer) => { got += d.toString() })
      s.write('server-first:')
      s.on('end', () => { setTimeout(() => s.end(`late reply to ${got}`), 1500) })
    })
    const proxy = await pipeProxy(kind, backend.endpoint, pki)
    const client = await connectTo(proxy.endpoint, pki)
    let reply = ''
    client.on('data', (d: Buffer) => { reply += d.toString() })
    const ended = new Promise((resolve) => client.once('end', resolve))
    client.end('request')
    await ended
    expect(reply).toBe('server-first:late reply to request')
    expect((await proxy.closed(1))[0]).toMatchObject({ reason: 'both_ended' })
    expect((await proxy.closed(1))[0]?.durationMs).toBeGreaterThanOrEqual(1400)

    // the other way round: the backend half-closes first, the client keeps sending and is heard
    let heard: (text: string) => void = () => {}
    const backendHeard = new Promise<string>((resolve) => { heard = resolve })
    const backend2 = await serve(kind, pki, (s) => {
      s.on('error', () => {})
      let got = ''
      s.on('data', (d: Buffer) => { got += d.toString() })
      s.on('end', () => { heard(got); s.end() })
      s.end('bye first; ')
    })
    const proxy2 = await pipeProxy(kind, backend2.endpoint, pki)
    const client2 = await connectTo(proxy2.endpoint, pki)
    const got2 = receiveHashed(client2)
    await new Promise((resolve) => client2.once('end', resolve))
    await sleep(600)
    client2.end('still talking after your end')
    await got2.catch(() => {})
    expect((await proxy2.closed(1))[0]).toMatchObject({ reason: 'both_ended', bytesAtoB: 28 })
    expect(await backendHeard).toBe('still talking after your end')
    for (const c of [proxy, backend, proxy2, backend2]) await c.close()
    await expectNoLeaks(before)
  }, 30_000)
})

describe('pipeSockets back-pressure', () => {
  it('pauses the writer while the reader is stuck: the pipe buffers at most a few high-water marks', async () => {
    const before = resources()
    let sink: net.Socket | undefined
    const backend = await serve('tcp', pki, (s) => { s.pause(); sink = s })
    const proxy = await pipeProxy('tcp', backend.endpoint, pki)
    const client = await connectTo(proxy.endpoint)
    const sending = sendHashed(client, 96 * MiB)
    let maxOut = 0
    let maxIn = 0
    let pausedSeen = false
    const samples: number[] = []
    for (let t = 0; t < 150; t++) {
      await sleep(10)
      const { a, b } = proxy.sockets[0] ?? {}
      if (a === undefined || b === undefined) continue
      maxOut = Math.max(maxOut, b.writableLength)
      maxIn = Math.max(maxIn, a.readableLength)
      pausedSeen ||= a.isPaused()
      samples.push(proxy.pipes[0]?.bytes().bytesAtoB ?? 0)
    }
    const { a, b } = proxy.sockets[0] ?? {}
    expect(pausedSeen).toBe(true)
    expect(maxOut).toBeLessThanOrEqual((b?.writableHighWaterMark ?? 0) + 2 * 65536)
    expect(maxIn).toBeLessThanOrEqual((a?.readableHighWaterMark ?? 0) + 2 * 65536)
    // stalled: nothing more crosses the pipe in the last half second, far from all 96 MiB
    expect(samples.at(-1)).toBe(samples.at(-50))
    expect(samples.at(-1)).toBeLessThan(48 * MiB)
    const received = receiveHashed(sink as net.Socket)
    sink?.resume()
    expect(await received).toEqual(await sending)
    sink?.end()
    expect((await proxy.closed(1))[0]).toMatchObject({ bytesAtoB: 96 * MiB, reason: 'both_ended' })
    await proxy.close()
    await backend.close()
    await expectNoLeaks(before)
  }, 60_000)
})
