// The tunnels as a byte pipe over real sockets: half-close carried both ways through the double proxy, back-pressure
// from a target that does not read, connect / idle / close timeouts, connection caps in total and per source
// (refused before any TLS work, coded and counted), Unix listening sockets (exact mode, a stale socket of ours
// replaced, a live one or a regular file refused and left alone, a target's socket never removed) and, in a real
// process, systemd socket activation (LISTEN_FDS, LISTEN_FDNAMES) with sd_notify READY and STOPPING.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { outcome, receiveHashed, sendHashed, sleep } from '../support/net.js'
import {
  blackhole, connected, connectTo, echoServer, forwardTunnel, mtlsConnected, mtlsTo, reverseTunnel, socketDir,
  startTunnels, type EchoServer, type TunnelsHandle
} from '../support/tunnel.js'
import { eventually } from '../support/device.js'
import { notifyReceiver } from '../support/notify-socket.js'
import { REPO_ROOT } from '../support/process.js'

const MiB = 1024 * 1024
let pki: TestPki
let dir: Awaited<ReturnType<typeof socketDir>>
/** What the shared target does with each connection (echo unless a test says otherwise). */
let handler: (s: Socket) => void = (s) => s.pipe(s)
let target: EchoServer
let unixTarget: EchoServer
let hole: Awaited<ReturnType<typeof blackhole>>
let reverse: TunnelsHandle
let forward: TunnelsHandle

/** A loopback port nobody listens on. */
async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

beforeAll(async () => {
  pki = await makeTestPki()
  dir = await socketDir()
  target = await echoServer(undefined, (s) => handler(s))
  unixTarget = await echoServer(join(dir.dir, 'target.sock'))
  hole = await blackhole()
  const at = target.address
  reverse = await startTunnels([
    reverseTunnel(pki, at),
    reverseTunnel(pki, at, { name: 'idle', idle_timeout: 400 }),
    reverseTunnel(pki, at, { name: 'close', close_timeout: 400 }),
    reverseTunnel(pki, at, { name: 'capped', max_connections: 2 }),
    reverseTunnel(pki, at, { name: 'per-ip', max_connections_per_ip: 1 }),
    reverseTunnel(pki, hole.address, { name: 'blackhole', connect_timeout: 300 }),
    reverseTunnel(pki, `127.0.0.1:${await closedPort()}`, { name: 'refused' }),
    reverseTunnel(pki, unixTarget.address, { name: 'unix-target' })
  ], { reload_watch: false })
  forward = await startTunnels([
    forwardTunnel(pki, pki.devices.ec, `unix:${dir.dir}/fwd.sock`, reverse.address('reverse'), { name: 'fwd', unix_mode: '0640' }),
    forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', hole.address, {
      name: 'fwd-blackhole', connect_timeout: 300, handshake_timeout: 300
    })
  ], { reload_watch: false })
})

afterAll(async () => {
  await forward?.close()
  await reverse?.close()
  await target?.close()
  await unixTarget?.close()
  await hole?.close()
  await dir?.cleanup()
  await pki?.cleanup()
})

/** Sends `text` to `address`, half-closes, and resolves with what came back before EOF. */
async function echoOf (address: string, text: string): Promise<string> {
  const s = await connected(address)
  const reply = readAll(s)
  s.end(text)
  const got = await reply
  s.destroy()
  return got
}

/** Everything a socket reads, as text, until it ends (resolves with the text on 'end'). */
async function readAll (s: Socket): Promise<string> {
  let text = ''
  s.on('data', (d: Buffer) => { text += d.toString() })
  return await new Promise((resolve, reject) => {
    s.once('end', () => resolve(text))
    s.once('error', reject)
  })
}

/** The closing log line of the next connection a tunnel carries (beyond the first `from`). */
async function closedLine (h: TunnelsHandle, tunnel: string, from: number): Promise<Record<string, unknown>> {
  const lines = (): Array<Record<string, unknown>> =>
    h.logs.filter((l) => l.event === 'tunnel_connection' && l.tunnel === tunnel && l.reason !== undefined)
  expect(await eventually(() => lines().length > from, 10_000)).toBe(true)
  return lines()[from] as Record<string, unknown>
}
const closedCount = (h: TunnelsHandle, tunnel: string): number =>
  h.logs.filter((l) => l.event === 'tunnel_connection' && l.tunnel === tunnel && l.reason !== undefined).length

describe('half-close through the double proxy', () => {
  it('client shuts its write side first: the target sees EOF, answers 1.5 s later, and the client gets it, then EOF',
    async () => {
      let targetSawEnd = false
      handler = (s) => {
        let got = 0
        s.on('data', (d: Buffer) => { got += d.length })
        s.once('end', () => {
          targetSawEnd = true
          // longer than socat's 0.5 s: the half-open connection must live on (close_timeout is 0 by default)
          setTimeout(() => s.end(`got ${got} bytes`), 1500)
        })
      }
      const client = await connected(forward.address('fwd'))
      const answer = readAll(client)
      client.end('request')
      expect(await eventually(() => targetSawEnd)).toBe(true)
      expect(await answer).toBe('got 7 bytes')
      client.destroy()
    })

  it('target shuts its write side first: the client gets its bytes and EOF, keeps sending, the target gets it all',
    async () => {
      let fromClient: Promise<string> | undefined
      handler = (s) => {
        fromClient = readAll(s)
        s.end('target done')
      }
      const client = await connected(forward.address('fwd'))
      expect(await readAll(client)).toBe('target done')
      await sleep(300)
      client.write('still ')
      client.end('talking')
      expect(await eventually(() => fromClient !== undefined)).toBe(true)
      expect(await fromClient).toBe('still talking')
      // both ways ended: the client's socket closes cleanly, and each tunnel logs both_ended
      expect(await eventually(() => client.closed)).toBe(true)
      expect(client.errored).toBeNull()
    })
})

describe('back-pressure', () => {
  it('a target that does not read stops the writer; once it reads, every byte arrives intact', async () => {
    let stalled: Socket | undefined
    handler = (s) => {
      s.pause()
      stalled = s
    }
    const client = await connected(forward.address('fwd'))
    const chunk = Buffer.alloc(64 * 1024, 7)
    let written = 0
    // write until a drain does not come within a second (the whole path is full), bounded at 256 MiB
    for (;;) {
      written += chunk.length
      if (client.write(chunk)) {
        if (written >= 256 * MiB) break
        continue
      }
      const drained = await Promise.race([
        new Promise((resolve) => client.once('drain', () => resolve(true))),
        sleep(1000).then(() => false)
      ])
      if (!drained || written >= 256 * MiB) break
    }
    // what the path buffers (socket buffers of four hops, TLS records, stream high-water marks) is bounded
    // (about 8 MiB on Linux loopback; the bound only catches a pipe that keeps reading what it cannot pass on)
    expect(written).toBeLessThan(48 * MiB)
    expect(client.writableLength).toBeGreaterThan(0)
    const rssBefore = process.memoryUsage().rss
    expect(stalled).toBeDefined()
    const got = receiveHashed(stalled as Socket)
    ;(stalled as Socket).resume()
    await new Promise((resolve) => client.once('drain', resolve))
    const rest = await sendHashed(client, 16 * MiB)
    const received = await got
    expect(received.bytes).toBe(written + rest.bytes)
    // the tunnel did not buffer the stalled bytes itself
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * MiB)
    client.destroy()
  }, 120_000)
})

describe('timeouts', () => {
  it('connect_timeout: a target that never answers the connect closes the client, coded, counted', async () => {
    const started = Date.now()
    const s = await mtlsConnected(reverse.address('blackhole'), pki, pki.devices.ec)
    s.write('payload')
    expect(await outcome(s)).toMatch(/^(end|closed|ECONNRESET)$/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    const line = reverse.withCode('MTLS_ERR_TUNNEL_CONNECT_TIMEOUT').find((l) => l.tunnel === 'blackhole')
    expect(line).toMatchObject({ event: 'tunnel_connection', result: 'failed' })
    expect(await reverse.metric('mtls_tunnel_connections_total', { tunnel: 'blackhole', result: 'failed' })).toBe(1)
  })

  it('an unreachable target (connection refused) closes the client with MTLS_ERR_TUNNEL_CONNECT', async () => {
    const s = await mtlsConnected(reverse.address('refused'), pki, pki.devices.ec)
    s.write('payload')
    expect(await outcome(s)).toMatch(/^(end|closed|ECONNRESET)$/)
    expect(await eventually(() => reverse.withCode('MTLS_ERR_TUNNEL_CONNECT').some((l) => l.tunnel === 'refused'))).toBe(true)
    expect(reverse.withCode('MTLS_ERR_TUNNEL_CONNECT').find((l) => l.tunnel === 'refused')?.cause).toMatch(/ECONNREFUSED/)
  })

  it('a forward tunnel whose remote never answers closes its client after connect + handshake timeouts', async () => {
    const s = await connected(forward.address('fwd-blackhole'))
    s.write('payload')
    expect(await outcome(s)).toMatch(/^(end|closed|ECONNRESET)$/)
    const line = forward.withCode('MTLS_ERR_TUNNEL_CONNECT_TIMEOUT').find((l) => l.tunnel === 'fwd-blackhole')
    expect(line).toMatchObject({ event: 'tunnel_connection', result: 'failed' })
  })

  it('idle_timeout: trickling bytes keep a connection open; silence closes it (reason idle_timeout)', async () => {
    handler = (s) => s.pipe(s)
    const from = closedCount(reverse, 'idle')
    const s = await mtlsConnected(reverse.address('idle'), pki, pki.devices.ec)
    let echoed = 0
    s.on('data', (d: Buffer) => { echoed += d.length })
    for (let i = 0; i < 10; i++) {
      s.write('x')
      await sleep(100)
    }
    expect(closedCount(reverse, 'idle')).toBe(from)
    expect(await outcome(s)).toMatch(/^(end|closed|ECONNRESET)$/)
    expect(echoed).toBe(10)
    expect(await closedLine(reverse, 'idle', from)).toMatchObject({ reason: 'idle_timeout', bytesIn: 10, bytesOut: 10 })
  })

  it('close_timeout: after the client half-closed, a target that never finishes is cut (reason close_timeout)',
    async () => {
      handler = (s) => { s.resume() }
      const from = closedCount(reverse, 'close')
      const s = await mtlsConnected(reverse.address('close'), pki, pki.devices.ec)
      const started = Date.now()
      s.end('bye')
      expect(await outcome(s)).toMatch(/^(end|closed|ECONNRESET)$/)
      expect(Date.now() - started).toBeGreaterThanOrEqual(350)
      expect(await closedLine(reverse, 'close', from)).toMatchObject({ reason: 'close_timeout', bytesIn: 3 })
    })
})

describe('connection caps', () => {
  it('max_connections: the one beyond is reset before any TLS work, coded and counted; a slot frees again',
    async () => {
      handler = (s) => s.pipe(s)
      const open = [
        await mtlsConnected(reverse.address('capped'), pki, pki.devices.ec),
        await mtlsConnected(reverse.address('capped'), pki, pki.devices.ec)
      ]
      expect(await eventually(() => target.accepted() > 0)).toBe(true)
      const beyond = mtlsTo(reverse.address('capped'), pki, pki.devices.ec)
      let secure = false
      beyond.once('secureConnect', () => { secure = true })
      expect(await outcome(beyond)).toMatch(/^(ECONNRESET|closed|end)$/)
      expect(secure).toBe(false)
      const refusal = reverse.withCode('MTLS_ERR_CONN_LIMIT_TOTAL').filter((l) => l.tunnel === 'capped')
      expect(refusal).toHaveLength(1)
      expect(refusal[0]).toMatchObject({ event: 'tunnel_connection', result: 'refused' })
      // no TLS handshake was attempted for it
      expect(reverse.logs.filter((l) => l.tunnel === 'capped' && l.msg === 'tls handshake failed')).toEqual([])
      expect(await reverse.metric('mtls_tunnel_connections_total', { tunnel: 'capped', result: 'refused' })).toBe(1)
      open[0]?.destroy()
      await sleep(200)
      const again = await mtlsConnected(reverse.address('capped'), pki, pki.devices.ec)
      const echo = readAll(again)
      again.end('in again')
      expect(await echo).toBe('in again')
      for (const s of [...open, again]) s.destroy()
    })

  it('max_connections_per_ip: a second connection from one address is refused, another address gets in', async () => {
    handler = (s) => s.pipe(s)
    const first = await mtlsConnected(reverse.address('per-ip'), pki, pki.devices.ec)
    const second = mtlsTo(reverse.address('per-ip'), pki, pki.devices.ec)
    expect(await outcome(second)).toMatch(/^(ECONNRESET|closed|end)$/)
    const refusal = reverse.withCode('MTLS_ERR_CONN_LIMIT_SOURCE').filter((l) => l.tunnel === 'per-ip')
    expect(refusal).toHaveLength(1)
    expect(refusal[0]).toMatchObject({ remote: '127.0.0.1', result: 'refused' })
    const other = await mtlsConnected(reverse.address('per-ip'), pki, pki.devices.ec, { localAddress: '127.0.0.2' })
    const echo = readAll(other)
    other.end('from 127.0.0.2')
    expect(await echo).toBe('from 127.0.0.2')
    expect(await reverse.metric('mtls_tunnel_connections_total', { tunnel: 'per-ip', result: 'refused' })).toBe(1)
    first.destroy()
    other.destroy()
  })
})

/** Leaves a socket file nobody listens on at `path` (a process that bound it and died). */
function staleSocket (path: string): void {
  const r = spawnSync('python3', ['-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])', path])
  expect(r.status).toBe(0)
  expect(statSync(path).isSocket()).toBe(true)
}

async function startError (listen: string): Promise<{ code?: string, message: string }> {
  const t = forwardTunnel(pki, pki.devices.ec, listen, reverse.address('reverse'), { name: 'again' })
  return await startTunnels([t]).then(async (h) => { await h.close(); return { message: 'started' } },
    (err: Error & { code?: string }) => ({ code: err.code, message: err.message }))
}

describe('Unix listening sockets', () => {
  it('has exactly unix_mode, no private bind folder left beside it, and carries connections', async () => {
    const path = join(dir.dir, 'fwd.sock')
    expect(statSync(path).mode & 0o777).toBe(0o640)
    expect(readdirSync(dir.dir).filter((f) => f.startsWith('.mtls-'))).toEqual([])
    handler = (s) => s.pipe(s)
    const s = await connected(forward.address('fwd'))
    const echo = readAll(s)
    s.end('unix')
    expect(await echo).toBe('unix')
  })

  it('replaces a stale socket file of ours, and removes its own file on stop', async () => {
    const path = join(dir.dir, 'stale.sock')
    staleSocket(path)
    const h = await startTunnels([forwardTunnel(pki, pki.devices.ec, `unix:${path}`, reverse.address('reverse'))])
    const s = connectTo(h.address('forward'))
    const echo = readAll(s)
    s.end('replaced')
    expect(await echo).toBe('replaced')
    await h.close()
    expect(existsSync(path)).toBe(false)
  })

  it('refuses a live socket and leaves it alone', async () => {
    const path = join(dir.dir, 'live.sock')
    const live = await echoServer(path)
    try {
      expect(await startError(`unix:${path}`)).toMatchObject({ code: 'MTLS_ERR_LISTEN_IN_USE' })
      const s = connectTo(live.address)
      const echo = readAll(s)
      s.end('still mine')
      expect(await echo).toBe('still mine')
    } finally {
      await live.close()
    }
  })

  it('refuses a regular file at the path and leaves it as it was', async () => {
    const path = join(dir.dir, 'plain-file')
    await writeFile(path, 'not a socket')
    expect(await startError(`unix:${path}`)).toMatchObject({ code: 'MTLS_ERR_LISTEN_PATH' })
    expect(readFileSync(path, 'utf8')).toBe('not a socket')
  })

  it('never removes its target\'s socket on stop', async () => {
    const h = await startTunnels([reverseTunnel(pki, unixTarget.address, { name: 'to-unix' })])
    const s = await mtlsConnected(h.address('to-unix'), pki, pki.devices.ec)
    const echo = readAll(s)
    s.end('to the unix target')
    expect(await echo).toBe('to the unix target')
    await h.close()
    expect(statSync(join(dir.dir, 'target.sock')).isSocket()).toBe(true)
    const again = connectTo(unixTarget.address)
    const reply = readAll(again)
    again.end('target alive')
    expect(await reply).toBe('target alive')
  })
})

/** The mtls-ambassador command as a real process with `listening` as fds 3, 4, … and LISTEN_PID its own pid. */
function activated (args: string[], listening: Server[], env: Record<string, string>): {
  exited: Promise<number | null>, output: () => string, pid: () => number | undefined
} {
  const fds = listening.map((l) => (l as unknown as { _handle: { fd: number } })._handle.fd)
  const cmd = `LISTEN_PID=$$ exec "${process.execPath}" --import tsx src/cli.ts "$@"`
  const child = spawn('sh', ['-c', cmd, 'sh', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...fds]
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { exited, output: () => out, pid: () => child.pid }
}

describe('systemd', () => {
  it('takes its listener from socket activation by name, reports READY once listening, RELOADING on SIGHUP, STOPPING on SIGTERM',
    async () => {
      handler = (s) => s.pipe(s)
      const [other, passed] = [createServer(), createServer()]
      for (const l of [other, passed]) await new Promise<void>((resolve) => l.listen(0, '127.0.0.1', resolve))
      const port = (passed.address() as AddressInfo).port
      const notifyPath = join(dir.dir, 'notify')
      const receiver = await notifyReceiver(notifyPath)
      const config = join(dir.dir, 'tunnels.yaml')
      writeFileSync(config, JSON.stringify({
        status_listen: 'off',
        reload_watch: false,
        tunnels: [forwardTunnel(pki, pki.devices.ec, 'systemd:agent', reverse.address('reverse'), { name: 'agent' })]
      }))
      const proc = activated(['serve', '--config', config], [other, passed], {
        LISTEN_FDS: '2', LISTEN_FDNAMES: 'other:agent', NOTIFY_SOCKET: notifyPath
      })
      try {
        const ready = await receiver.next()
        expect(ready.text).toMatch(/^READY=1$/m)
        expect(ready.pid).toBe(proc.pid())
        passed.close() // only the process holds it now
        const s = connectTo(`127.0.0.1:${port}`)
        const echo = readAll(s)
        s.end('socket activated')
        expect(await echo).toBe('socket activated')
        expect(proc.output()).toContain('"event":"tunnel_listening"')
        // SIGHUP reloads: RELOADING=1, then READY=1 again, still carrying connections
        process.kill(proc.pid() as number, 'SIGHUP')
        expect((await receiver.next()).text).toMatch(/^RELOADING=1$/m)
        expect((await receiver.next()).text).toMatch(/^READY=1$/m)
        expect(await echoOf(`127.0.0.1:${port}`, 'after reload')).toBe('after reload')
        process.kill(proc.pid() as number, 'SIGTERM')
        expect((await receiver.next()).text).toMatch(/^STOPPING=1$/m)
        expect(await proc.exited).toBe(0)
      } finally {
        if (proc.pid() !== undefined) try { process.kill(proc.pid() as number, 'SIGKILL') } catch {}
        await receiver.stop()
        passed.close()
        other.close()
      }
    }, 60_000)
})
