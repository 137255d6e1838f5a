// listen() on real sockets: TCP, Unix socket files (exact mode/owner/group with no moment more open than asked,
// stale replaced, live and non-socket paths refused and kept, close removing only our own file), and sockets
// inherited from systemd socket activation in a real child process.
import { spawn } from 'node:child_process'
import {
  chmodSync, closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, unlinkSync,
  writeFileSync
} from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Address } from '../../src/net/address.js'
import { listen, type Listening } from '../../src/net/listen.js'
import { expectNoLeaks, outcome, resources, sleep, tempDir } from '../support/net.js'
import { REPO_ROOT } from '../support/process.js'

let dir: string
let cleanup: () => void
const opened: Listening[] = []
const servers: net.Server[] = []

beforeEach(() => { ({ dir, cleanup } = tempDir('net-listen-')) })
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close()
  for (const s of servers.splice(0)) s.close()
  cleanup()
})

const unix = (name: string): Address => ({ kind: 'unix', path: join(dir, name) })
const server = (): net.Server => {
  const s = net.createServer((c) => { c.on('error', () => {}); c.end('ours') })
  servers.push(s)
  return s
}
async function up (address: Address, opts = {}): Promise<Listening> {
  const l = await listen(server(), address, opts)
  opened.push(l)
  return l
}
async function reply (path: string): Promise<string> {
  const c = net.connect({ path })
  let got = ''
  c.on('data', (d: Buffer) => { got += d.toString() })
  await outcome(c)
  return got
}
async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  return await p.then(() => undefined, (e: { code?: string }) => e.code)
}
/** A stale socket file: bound by a server that is gone (a hard link outlives libuv's unlink on close). */
async function staleSocket (path: string): Promise<void> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(`${path}.tmp`, resolve))
  linkSync(`${path}.tmp`, path)
  await new Promise((resolve) => s.close(resolve))
}

describe('listen on TCP', () => {
  it('listens on port 0 and reports the real port; a port in use is MTLS_ERR_LISTEN_IN_USE naming it', async () => {
    const l = await up({ kind: 'tcp', host: '127.0.0.1', port: 0 })
    expect(l.local).toMatchObject({ kind: 'tcp', host: '127.0.0.1' })
    const port = (l.local as { port: number }).port
    expect(port).toBeGreaterThan(0)
    const err = await listen(server(), { kind: 'tcp', host: '127.0.0.1', port }).catch((e: Error & { code: string }) => e)
    expect(err).toMatchObject({ code: 'MTLS_ERR_LISTEN_IN_USE', message: `another process is listening on 127.0.0.1:${port}` })
  })

  it('refuses a bad backlog and unix-only options with MTLS_ERR_LISTEN', async () => {
    const tcp: Address = { kind: 'tcp', host: '127.0.0.1', port: 0 }
    expect(await codeOf(listen(server(), tcp, { backlog: 0 }))).toBe('MTLS_ERR_LISTEN')
    expect(await codeOf(listen(server(), tcp, { mode: 0o600 }))).toBe('MTLS_ERR_LISTEN')
    expect(await codeOf(listen(server(), { kind: 'tcp', host: 'no-such-host.invalid', port: 0 }))).toBe('MTLS_ERR_LISTEN')
  })
})

describe('listen on a Unix socket', () => {
  it('applies mode, owner and group (names or ids) and leaves no private bind folder behind', async () => {
    await up(unix('a.sock'), { mode: 0o660, owner: 'daemon', group: 'nogroup' })
    const a = lstatSync(join(dir, 'a.sock'))
    expect([a.isSocket(), a.mode & 0o7777, a.uid, a.gid]).toEqual([true, 0o660, 1, 65534])
    await up(unix('b.sock'), { mode: 0o604, owner: 2, group: '3' })
    const b = lstatSync(join(dir, 'b.sock'))
    expect([b.mode & 0o7777, b.uid, b.gid]).toEqual([0o604, 2, 3])
    await up(unix('c.sock'))
    expect(lstatSync(join(dir, 'c.sock')).mode & 0o7777).toBe(0o600)
    expect(readdirSync(dir).sort()).toEqual(['a.sock', 'b.sock', 'c.sock'])
    expect(await reply(join(dir, 'a.sock'))).toBe('ours')
  })

  it('is never connectable by another user while it starts (umask 0), only once its mode allows', async () => {
    chmodSync(dir, 0o755)
    const path = join(dir, 'w.sock')
    const script = `const net = require('node:net'); let hits = 0
      const go = () => { const c = net.connect(${JSON.stringify(path)}); c.on('connect', () => { hits++; c.destroy() })
        c.on('error', () => {}); c.on('close', () => setImmediate(go)) }
      for (let i = 0; i < 4; i++) go()
      console.log('ready')
      process.on('SIGTERM', () => { console.log(hits); process.exit(0) })`
    const run = async (mode: number, cycles: number, holdMs = 0): Promise<number> => {
      const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      const ready = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.startsWith('ready\n')) resolve()
      }))
      await ready
      for (let i = 0; i < cycles; i++) {
        const l = await listen(server(), { kind: 'unix', path }, { mode })
        if (holdMs > 0) await sleep(holdMs)
        await l.close()
      }
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
      return Number(out.slice('ready\n'.length).trim())
    }
    const old = process.umask(0)
    try {
      expect(await run(0o600, 300)).toBe(0)
      expect(await run(0o600, 1, 300)).toBe(0)
      // control: the same loop does reach a socket whose mode allows it
      expect(await run(0o666, 1, 1000)).toBeGreaterThan(0)
    } finally {
      process.umask(old)
    }
  }, 30_000)

  it('replaces a stale socket (nobody listening) with its own', async () => {
    const path = join(dir, 's.sock')
    await staleSocket(path)
    const staleIno = lstatSync(path).ino
    await up({ kind: 'unix', path })
    expect(lstatSync(path).ino).not.toBe(staleIno)
    expect(await reply(path)).toBe('ours')
  })

  it('refuses a live socket with MTLS_ERR_LISTEN_IN_USE and leaves it serving', async () => {
    const path = join(dir, 'live.sock')
    const other = net.createServer((c) => c.end('theirs'))
    servers.push(other)
    await new Promise<void>((resolve) => other.listen(path, resolve))
    other.on('connection', (c) => c.on('error', () => {}))
    const ino = lstatSync(path).ino
    const err = await listen(server(), { kind: 'unix', path }).catch((e: Error & { code: string }) => e)
    expect(err).toMatchObject({ code: 'MTLS_ERR_LISTEN_IN_USE', message: `another process is listening on unix:${path}` })
    expect(lstatSync(path).ino).toBe(ino)
    expect(await reply(path)).toBe('theirs')
    expect(readdirSync(dir)).toEqual(['live.sock'])
  })

  it('refuses a regular file, a folder and symbolic links with MTLS_ERR_LISTEN_PATH, removing none', async () => {
    writeFileSync(join(dir, 'file'), 'precious')
    mkdirSync(join(dir, 'folder'))
    symlinkSync(join(dir, 'file'), join(dir, 'link-to-file'))
    await staleSocket(join(dir, 'stale.sock'))
    symlinkSync(join(dir, 'stale.sock'), join(dir, 'link-to-socket'))
    for (const name of ['file', 'folder', 'link-to-file', 'link-to-socket']) {
      const err = await listen(server(), unix(name)).catch((e: Error & { code: string }) => e)
      expect(err).toMatchObject({ code: 'MTLS_ERR_LISTEN_PATH' })
      expect((err as Error).message).toContain('not a socket; left as it is')
    }
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('precious')
    expect(lstatSync(join(dir, 'link-to-socket')).isSymbolicLink()).toBe(true)
    expect(readdirSync(dir).sort()).toEqual(['file', 'folder', 'link-to-file', 'link-to-socket', 'stale.sock'])
  })

  it('refuses a missing parent folder and an unknown owner, leaving nothing behind', async () => {
    const before = resources()
    expect(await codeOf(listen(server(), unix('missing/x.sock')))).toBe('MTLS_ERR_LISTEN_PATH')
    expect(await codeOf(listen(server(), { kind: 'unix', path: '/proc/net-listen-test.sock' }))).toBe('MTLS_ERR_LISTEN_PATH')
    expect(await codeOf(listen(server(), unix('x.sock'), { owner: 'no-such-user-here' }))).toBe('MTLS_ERR_LISTEN_OWNER')
    expect(await codeOf(listen(server(), unix('x.sock'), { group: 'no-such-group-here' }))).toBe('MTLS_ERR_LISTEN_OWNER')
    expect(await codeOf(listen(server(), unix('x.sock'), { mode: 0o1777 }))).toBe('MTLS_ERR_LISTEN')
    expect(readdirSync(dir)).toEqual([])
    await expectNoLeaks(before)
  })

  it('removes its socket file on close, but never a path that was replaced meanwhile', async () => {
    const path = join(dir, 'r.sock')
    const l = await listen(server(), { kind: 'unix', path })
    await l.close()
    expect(readdirSync(dir)).toEqual([])

    // another instance took the path over: our close leaves its socket serving
    const ours = await listen(server(), { kind: 'unix', path })
    unlinkSync(path)
    const other = net.createServer((c) => c.end('theirs'))
    servers.push(other)
    await new Promise<void>((resolve) => other.listen(path, resolve))
    await ours.close()
    expect(await reply(path)).toBe('theirs')
    await new Promise((resolve) => other.close(resolve))

    // a regular file put there is kept too, also when the server is closed directly
    const direct = server()
    await listen(direct, { kind: 'unix', path })
    unlinkSync(path)
    writeFileSync(path, 'not yours')
    await new Promise((resolve) => direct.close(resolve))
    expect(readFileSync(path, 'utf8')).toBe('not yours')
    unlinkSync(path)

    const closedDirectly = server()
    await listen(closedDirectly, { kind: 'unix', path })
    await new Promise((resolve) => closedDirectly.close(resolve))
    expect(readdirSync(dir)).toEqual([])
  })
})

/** Spawns the inherit child with `fd` as its fd 3 and LISTEN_PID set to its own pid by the shell before exec. */
function child (
  address: string, fd: number, env: Record<string, string>
): { line: Promise<Record<string, unknown>>, stop: () => Promise<void> } {
  const cmd = `LISTEN_PID=$$ exec "${process.execPath}" --import tsx test/support/net-inherit-child.ts "$0"`
  const p = spawn('sh', ['-c', cmd, address], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit', fd]
  })
  const line = new Promise<Record<string, unknown>>((resolve) => {
    let out = ''
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] ?? '{}') as Record<string, unknown>)
    })
  })
  const stop = async (): Promise<void> => {
    if (p.exitCode === null) p.kill('SIGTERM')
    if (p.exitCode === null) await new Promise((resolve) => p.once('exit', resolve))
  }
  return { line, stop }
}
const fdOf = (s: net.Server): number => (s as unknown as { _handle: { fd: number } })._handle.fd

describe('listen on a socket inherited from systemd', () => {
  it('takes the TCP socket named in LISTEN_FDNAMES (fd 3) in a child whose LISTEN_PID is its own pid', async () => {
    const passed = server()
    await new Promise<void>((resolve) => passed.listen(0, '127.0.0.1', resolve))
    const port = (passed.address() as net.AddressInfo).port
    const c = child('systemd:tunnel', fdOf(passed), { LISTEN_FDS: '1', LISTEN_FDNAMES: 'tunnel' })
    try {
      expect(await c.line).toEqual({ listening: `127.0.0.1:${port}`, env: '1' })
      passed.close() // only the child holds it now
      const s = net.connect({ port, host: '127.0.0.1' })
      let got = ''
      s.on('data', (d: Buffer) => { got += d.toString() })
      await outcome(s)
      expect(got).toMatch(/^pid \d+$/)
      expect(got).not.toBe(`pid ${process.pid}`)
    } finally {
      await c.stop()
    }
  }, 20_000)

  it('takes an inherited Unix socket by fd number (Node cannot read its path: local is the fd)', async () => {
    const path = join(dir, 'inherited.sock')
    const passed = server()
    await new Promise<void>((resolve) => passed.listen(`${path}.tmp`, resolve))
    linkSync(`${path}.tmp`, path)
    const c = child('fd:3', fdOf(passed), {})
    try {
      await c.line
      await new Promise((resolve) => passed.close(resolve)) // only the child holds it now
      expect(await c.line).toEqual({ listening: 'fd:3', env: null })
      expect(readdirSync(dir)).toEqual(['inherited.sock'])
      expect(await reply(path)).toMatch(/^pid \d+$/)
    } finally {
      await c.stop()
    }
  }, 20_000)

  it('refuses a LISTEN_PID of another process, a missing LISTEN_FDS, an unknown name and a non-socket fd', async () => {
    const passed = server()
    await new Promise<void>((resolve) => passed.listen(0, '127.0.0.1', resolve))
    const fd = fdOf(passed)
    const env = { LISTEN_PID: String(process.pid), LISTEN_FDS: '1', LISTEN_FDNAMES: 'tunnel' }
    const inherit = async (address: Address, e: Record<string, string>, pid = process.pid): Promise<unknown> =>
      await listen(net.createServer(), address, { env: e, pid }).catch((err: Error) => err)
    expect(await inherit({ kind: 'inherited', name: 'tunnel' }, env, process.pid + 1))
      .toMatchObject({ code: 'MTLS_ERR_LISTEN_INHERITED', message: expect.stringContaining('is not this process') })
    expect(await inherit({ kind: 'inherited', name: 'tunnel' }, {}))
      .toMatchObject({ code: 'MTLS_ERR_LISTEN_INHERITED', message: expect.stringContaining('LISTEN_FDS is not set') })
    expect(await inherit({ kind: 'inherited', name: 'other' }, env))
      .toMatchObject({ code: 'MTLS_ERR_LISTEN_INHERITED', message: expect.stringContaining("no socket named 'other'") })
    const file = openSync(join(dir, 'plain'), 'w')
    expect(await inherit({ kind: 'inherited', fd: file }, {}))
      .toMatchObject({ code: 'MTLS_ERR_LISTEN_INHERITED', message: `cannot use inherited socket fd:${file}: fd ${file} is not a socket` })
    closeSync(file)
    expect(await inherit({ kind: 'inherited', fd: 999 }, {})).toMatchObject({ code: 'MTLS_ERR_LISTEN_INHERITED' })
    expect(fd).toBeGreaterThan(2)
    expect(env).toEqual({ LISTEN_PID: String(process.pid), LISTEN_FDS: '1', LISTEN_FDNAMES: 'tunnel' })
  })
})
