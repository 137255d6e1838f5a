// Integrity through the double proxy, checked the way ghostunnel's suite does it (SHA-256 over random payloads):
// client → forward tunnel (Unix socket, or loopback TCP) → mTLS → reverse tunnel → TCP target. 64 MiB each way with
// a half-close right after the last byte, 24 MiB full duplex over sequential and parallel connections, tiny writes,
// one-byte ping-pongs, and long streams kept intact through reloads that rotate both tunnels' certificates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { issueServerCert } from '../../src/tools/pki/index.js'
import { makeTestPki, type TestCert, type TestPki } from '../support/pki.js'
import { receiveHashed, sendHashed, type Digest } from '../support/net.js'
import {
  connected, echoServer, forwardTunnel, replaceFile, reverseTunnel, socketDir, startTunnels,
  type EchoServer, type TunnelsHandle
} from '../support/tunnel.js'
import { eventually } from '../support/device.js'

const MiB = 1024 * 1024
const FORWARDS = ['fwd-unix', 'fwd-tcp'] as const

let pki: TestPki
let dir: Awaited<ReturnType<typeof socketDir>>
let target: EchoServer
/** What the target does with each connection: echo it, or send 24 MiB while hashing what it receives. */
let behaviour: 'echo' | 'duplex' = 'echo'
const duplexResults: Array<Promise<[Digest, Digest]>> = []
let reverse: TunnelsHandle
let forward: TunnelsHandle
/** The files the tunnels read their own certificates from (rotated by the reload test). */
let files: { client: { cert: string, key: string }, server: { cert: string, key: string } }

async function copyCert (cert: TestCert, to: string): Promise<{ cert: string, key: string }> {
  await mkdir(to, { recursive: true })
  const paths = { cert: join(to, 'chain.pem'), key: join(to, 'key.pem') }
  await copyFile(cert.chainPath, paths.cert)
  await copyFile(cert.keyPath, paths.key)
  return paths
}

beforeAll(async () => {
  pki = await makeTestPki()
  dir = await socketDir()
  target = await echoServer(undefined, (s) => {
    if (behaviour === 'echo') s.pipe(s)
    else duplexResults.push(Promise.all([sendHashed(s, 24 * MiB), receiveHashed(s)]))
  })
  files = {
    client: await copyCert(await pki.device('rot-0'), join(pki.dir, 'rotating', 'client')),
    server: await copyCert(pki.server, join(pki.dir, 'rotating', 'server'))
  }
  const noWatch = { reload_watch: false }
  const serverFiles = { cert: files.server.cert, key: files.server.key }
  reverse = await startTunnels([reverseTunnel(pki, target.address, serverFiles)], noWatch)
  const remote = reverse.address('reverse')
  const own = { cert: files.client.cert, key: files.client.key }
  forward = await startTunnels([
    forwardTunnel(pki, pki.devices.ec, `unix:${dir.dir}/agent.sock`, remote, { name: 'fwd-unix', ...own }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', remote, { name: 'fwd-tcp', ...own })
  ], noWatch)
})

afterAll(async () => {
  await forward?.close()
  await reverse?.close()
  await target?.close()
  await dir?.cleanup()
  await pki?.cleanup()
})

/** The closing log line of the `n`-th connection a tunnel carried (in log order). */
async function closedLines (h: TunnelsHandle, tunnel: string, n: number): Promise<Array<Record<string, unknown>>> {
  const lines = (): Array<Record<string, unknown>> =>
    h.logs.filter((l) => l.event === 'tunnel_connection' && l.tunnel === tunnel && l.reason !== undefined)
  expect(await eventually(() => lines().length >= n, 10_000)).toBe(true)
  return lines()
}

describe.each(FORWARDS)('through the double proxy (%s)', (name) => {
  it('carries 64 MiB each way with a half-close right after the last byte: the echo arrives whole, then EOF',
    async () => {
      behaviour = 'echo'
      const before = (await closedLines(forward, name, 0)).length
      const client = await connected(forward.address(name))
      const received = receiveHashed(client)
      const sent = await sendHashed(client, 64 * MiB, { sizes: () => 1 + Math.floor(Math.random() * 131072) })
      expect(await received).toEqual(sent)
      client.destroy()
      const line = (await closedLines(forward, name, before + 1))[before]
      expect(line).toMatchObject({ bytesIn: 64 * MiB, bytesOut: 64 * MiB, reason: 'both_ended' })
    }, 180_000)

  it('carries 24 MiB full duplex over sequential connections, then over 4 parallel ones', async () => {
    behaviour = 'duplex'
    const duplex = async (): Promise<void> => {
      const first = duplexResults.length
      const client = await connected(forward.address(name))
      const [clientSent, clientGot] = await Promise.all([sendHashed(client, 24 * MiB), receiveHashed(client)])
      expect(await eventually(() => duplexResults.length > first)).toBe(true)
      const [targetSent, targetGot] = await (duplexResults[first] as Promise<[Digest, Digest]>)
      expect(clientGot).toEqual(targetSent)
      expect(targetGot).toEqual(clientSent)
      expect(clientGot.bytes).toBe(24 * MiB)
      client.destroy()
    }
    await duplex()
    await duplex()
    // in parallel every connection gets its own target socket: match them by what each side received
    const first = duplexResults.length
    const clients = await Promise.all([0, 1, 2, 3].map(async () => {
      const client = await connected(forward.address(name))
      return await Promise.all([sendHashed(client, 24 * MiB), receiveHashed(client)]).finally(() => client.destroy())
    }))
    expect(duplexResults.length).toBe(first + 4)
    const targets = await Promise.all(duplexResults.slice(first))
    const key = (a: Digest, b: Digest): string => `${a.sha}>${b.sha}`
    expect(new Set(clients.map(([sent, got]) => key(sent, got))))
      .toEqual(new Set(targets.map(([sent, got]) => key(got, sent))))
    behaviour = 'echo'
  }, 300_000)

  it('carries tiny writes (1 byte, then every odd size up to 2039) intact', async () => {
    behaviour = 'echo'
    const client = await connected(forward.address(name))
    const received = receiveHashed(client)
    const sizes = [1]
    for (let n = 1; n <= 2039; n += 2) sizes.push(n)
    const total = sizes.reduce((a, b) => a + b, 0)
    let i = 0
    const sent = await sendHashed(client, total, { sizes: () => sizes[i++] ?? 1 })
    expect(i).toBe(sizes.length)
    expect(await received).toEqual(sent)
    client.destroy()
  }, 60_000)

  it('resumes its TLS session with the remote on later connections and still carries them', async () => {
    behaviour = 'echo'
    const admitted = (): Array<Record<string, unknown>> => reverse.logs.filter((l) => l.msg === 'tls admitted')
    const before = admitted().length
    for (let i = 0; i < 3; i++) {
      const client = await connected(forward.address(name))
      const got = receiveHashed(client)
      client.end(`resumed ${i}`)
      expect((await got).bytes).toBe(9)
      client.destroy()
    }
    expect(await eventually(() => admitted().length >= before + 3)).toBe(true)
    // the forward tunnel judged each resumed session by the server certificate it was made with (Node shows none)
    expect(admitted().slice(before).filter((l) => l.resumed === true).length).toBeGreaterThanOrEqual(2)
    expect(forward.logs.filter((l) => l.tunnel === name && l.result === 'refused')).toEqual([])
  }, 60_000)

  it('answers 200 one-byte ping-pongs in order', async () => {
    behaviour = 'echo'
    const client = await connected(forward.address(name))
    for (let i = 0; i < 200; i++) {
      const reply = new Promise<Buffer>((resolve) => client.once('data', resolve))
      client.write(Buffer.from([i]))
      expect([...await reply]).toEqual([i])
    }
    client.end()
    await new Promise((resolve) => client.once('close', resolve))
  }, 60_000)
})

/** A stream written in phases, hashing what it writes; the echo it gets back is hashed as it arrives. */
class LongStream {
  private readonly hash = createHash('sha256')
  private bytes = 0
  readonly echoed: Promise<Digest>

  constructor (readonly socket: Socket) { this.echoed = receiveHashed(socket) }

  async write (size: number): Promise<void> {
    const chunk = randomBytes(size)
    this.hash.update(chunk)
    this.bytes += size
    if (!this.socket.write(chunk)) await new Promise((resolve) => this.socket.once('drain', resolve))
  }

  end (): Digest {
    this.socket.end()
    return { bytes: this.bytes, sha: this.hash.digest('hex') }
  }
}

/** Issues a new client certificate (CN `rot-<n>`) and server certificate and puts them in the tunnels' files. */
async function rotate (n: number): Promise<void> {
  const client = await pki.device(`rot-${n}`)
  const server = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1', '::1'] })
  await replaceFile(files.client.key, client.keyPem)
  await replaceFile(files.client.cert, client.chainPem)
  await replaceFile(files.server.key, server.keyPem)
  await replaceFile(files.server.cert, server.chainPem)
}

/** The CN the reverse tunnel logged for the last connection it carried. */
function lastPeerCn (): unknown {
  const lines = reverse.logs.filter((l) => l.event === 'tunnel_connection' && l.reason !== undefined)
  return (lines[lines.length - 1]?.peer as { cn?: string } | undefined)?.cn
}

describe('long streams through reloads', () => {
  it('keeps 10 long streams intact through 5 reloads that rotate both tunnels\' certificates', async () => {
    behaviour = 'echo'
    const reverseBefore = (await closedLines(reverse, 'reverse', 0)).length
    const streams: LongStream[] = []
    for (let i = 0; i < 10; i++) streams.push(new LongStream(await connected(forward.address(FORWARDS[i % 2] ?? ''))))
    for (let phase = 1; phase <= 5; phase++) {
      await Promise.all(streams.map(async (s) => await s.write(256 * 1024 + phase)))
      await rotate(phase)
      const results = [...await forward.running.reload('test'), ...await reverse.running.reload('test')]
      expect(results).toHaveLength(3)
      for (const r of results) expect(r).toMatchObject({ ok: true, changed: true })
      // a new connection presents the rotated client certificate to the rotated server
      const probe = await connected(forward.address('fwd-unix'))
      const got = receiveHashed(probe)
      probe.end('after reload')
      expect((await got).bytes).toBe(12)
      probe.destroy()
      expect(await eventually(() => lastPeerCn() === `rot-${phase}`)).toBe(true)
    }
    await Promise.all(streams.map(async (s) => await s.write(64 * 1024)))
    const sent = streams.map((s) => s.end())
    const echoed = await Promise.all(streams.map(async (s) => await s.echoed))
    expect(echoed).toEqual(sent)
    for (const s of streams) s.socket.destroy()
    // the long streams were carried by the first certificate from start to end
    const lines = (await closedLines(reverse, 'reverse', reverseBefore + 15)).slice(reverseBefore)
    const long = lines.filter((l) => (l.peer as { cn?: string }).cn === 'rot-0')
    expect(long).toHaveLength(10)
    for (const l of long) expect(l).toMatchObject({ reason: 'both_ended' })
  }, 120_000)
})
