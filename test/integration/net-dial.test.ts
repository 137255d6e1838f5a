// dial() and awaitConnect() over real sockets: TCP and Unix targets, refusals, a connect that hangs (a listener with
// a full accept queue), a TLS handshake that never comes, aborts; each failure coded and leaving nothing behind.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Address } from '../../src/net/address.js'
import { awaitConnect, connectOptions, dial } from '../../src/net/dial.js'
import { echo, expectNoLeaks, receiveHashed, resources, serve, tempDir } from '../support/net.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let blackhole: { child: ChildProcess, port: number }

/** A listener whose accept queue is full: SYNs to it are dropped, so connecting hangs. */
async function startBlackhole (): Promise<{ child: ChildProcess, port: number }> {
  const py = `import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fill.append(c)
print(port, flush=True)
time.sleep(600)
`
  const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
  return { child, port }
}

beforeAll(async () => {
  pki = await makeTestPki()
  blackhole = await startBlackhole()
})
afterAll(async () => {
  blackhole.child.kill('SIGTERM')
  await pki.cleanup()
})

const failure = async (p: Promise<unknown>): Promise<{ code?: string, message?: string, cause?: { code?: string } }> =>
  await p.then(() => ({}), (e: { code?: string, message?: string, cause?: { code?: string } }) => e)

describe('dial', () => {
  it('connects to TCP and Unix targets with allowHalfOpen, ready for a half-closing exchange', async () => {
    for (const kind of ['tcp', 'unix'] as const) {
      const backend = await serve(kind, undefined, echo)
      const target: Address = kind === 'tcp'
        ? { kind: 'tcp', host: '127.0.0.1', port: backend.endpoint.port ?? 0 }
        : { kind: 'unix', path: backend.endpoint.path ?? '' }
      const s = await dial(target, { connectTimeoutMs: 2000, keepAliveMs: 30_000 })
      expect(s.allowHalfOpen).toBe(true)
      const got = receiveHashed(s)
      s.end('ping')
      expect((await got).bytes).toBe(4)
      await backend.close()
    }
  })

  it('turns a refusal into MTLS_ERR_TUNNEL_CONNECT naming the target, with the errno as cause', async () => {
    const before = resources()
    const closed = await serve('tcp', undefined, () => {})
    const port = closed.endpoint.port ?? 0
    await closed.close()
    expect(await failure(dial({ kind: 'tcp', host: '127.0.0.1', port }, { connectTimeoutMs: 2000 }))).toMatchObject({
      code: 'MTLS_ERR_TUNNEL_CONNECT', message: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED`, cause: { code: 'ECONNREFUSED' }
    })
    const { dir, cleanup } = tempDir()
    expect(await failure(dial({ kind: 'unix', path: join(dir, 'none.sock') }, { connectTimeoutMs: 2000 })))
      .toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT', cause: { code: 'ENOENT' } })
    cleanup()
    await expectNoLeaks(before)
  })

  it('gives up a hanging connect after connectTimeoutMs with MTLS_ERR_TUNNEL_CONNECT_TIMEOUT', async () => {
    const before = resources()
    const started = Date.now()
    expect(await failure(dial({ kind: 'tcp', host: '127.0.0.1', port: blackhole.port }, { connectTimeoutMs: 300 }))).toMatchObject({
      code: 'MTLS_ERR_TUNNEL_CONNECT_TIMEOUT', message: `connecting to 127.0.0.1:${blackhole.port} timed out after 300 ms`
    })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    await expectNoLeaks(before)
  })

  it('stops connecting when aborted, and refuses an already aborted signal at once', async () => {
    const before = resources()
    const ac = new AbortController()
    const pending = dial({ kind: 'tcp', host: '127.0.0.1', port: blackhole.port }, { connectTimeoutMs: 5000, signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    expect(await failure(pending)).toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT_ABORTED' })
    expect(await failure(dial({ kind: 'tcp', host: '127.0.0.1', port: 1 }, { connectTimeoutMs: 100, signal: ac.signal })))
      .toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT_ABORTED' })
    await expectNoLeaks(before)
  })

  it('refuses inherited addresses and bad timeouts', async () => {
    expect(await failure(dial({ kind: 'inherited', name: 'x' }, { connectTimeoutMs: 100 })))
      .toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT', message: 'cannot connect to systemd:x: inherited sockets cannot be dialled' })
    for (const ms of [0, -5, 1.5, Number.NaN]) {
      await expect(dial({ kind: 'tcp', host: '127.0.0.1', port: 1 }, { connectTimeoutMs: ms })).rejects.toThrow(RangeError)
    }
  })
})

describe('awaitConnect for TLS built on connectOptions', () => {
  it('waits for secureConnect over TCP and over a Unix socket; the TLS socket inherits allowHalfOpen', async () => {
    for (const kind of ['tls', 'unix-tls'] as const) {
      const options = { key: pki.server.keyPem, cert: pki.server.chainPem, allowHalfOpen: true }
      const server = tls.createServer(options, (s) => {
        s.resume()
        s.on('end', () => setTimeout(() => s.end('after your end'), 50))
      })
      const { dir, cleanup } = tempDir()
      const target: Address = kind === 'tls' ? { kind: 'tcp', host: '127.0.0.1', port: 0 } : { kind: 'unix', path: join(dir, 't.sock') }
      if (target.kind === 'tcp') {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        target.port = (server.address() as net.AddressInfo).port
      } else {
        await new Promise<void>((resolve) => server.listen(target.path, resolve))
      }
      const s = tls.connect({ ...connectOptions(target), servername: 'localhost', ca: pki.root.certPem })
      await awaitConnect(s, target, { connectTimeoutMs: 2000, readyEvent: 'secureConnect' })
      expect(s.allowHalfOpen).toBe(true)
      const got = receiveHashed(s)
      s.end('bye')
      expect((await got).bytes).toBe('after your end'.length)
      await new Promise((resolve) => server.close(resolve))
      cleanup()
    }
  })

  it('times out a TLS handshake that never comes (a plain TCP peer that stays silent)', async () => {
    const before = resources()
    const silent = await serve('tcp', undefined, (s) => { s.resume() })
    const target: Address = { kind: 'tcp', host: '127.0.0.1', port: silent.endpoint.port ?? 0 }
    const s = tls.connect({ ...connectOptions(target), servername: 'localhost', ca: pki.root.certPem })
    expect(await failure(awaitConnect(s, target, { connectTimeoutMs: 250, readyEvent: 'secureConnect' })))
      .toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT_TIMEOUT' })
    expect(s.destroyed).toBe(true)
    await silent.close()
    await expectNoLeaks(before)
  })

  it('codes a TLS failure (untrusted server) as MTLS_ERR_TUNNEL_CONNECT with the TLS error as cause', async () => {
    const server = tls.createServer({ key: pki.server.keyPem, cert: pki.server.chainPem }, () => {})
    server.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const target: Address = { kind: 'tcp', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }
    const s = tls.connect({ ...connectOptions(target), servername: 'localhost', ca: pki.foreign.certPem })
    expect(await failure(awaitConnect(s, target, { connectTimeoutMs: 2000, readyEvent: 'secureConnect' })))
      .toMatchObject({ code: 'MTLS_ERR_TUNNEL_CONNECT', cause: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } })
    await new Promise((resolve) => server.close(resolve))
  })
})
