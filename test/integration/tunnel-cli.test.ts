// The one-tunnel command line (`mtls-ambassador tunnel forward|reverse …`) and a YAML file of several tunnels, as
// real processes: a working pair carries bytes, SIGTERM drains (an open connection finishes) and exits 0, every bad
// value is a clear error with its exit code (2: usage, 1: configuration or material), and a file's tunnels are
// validated as a whole (every problem reported at once).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { runCli, type CliProcess } from '../support/process.js'
import { connected, connectTo, echoServer, socketDir, type EchoServer } from '../support/tunnel.js'
import { eventually } from '../support/device.js'

let pki: TestPki
let dir: Awaited<ReturnType<typeof socketDir>>
let target: EchoServer
const started: CliProcess[] = []

beforeAll(async () => {
  pki = await makeTestPki()
  dir = await socketDir()
  target = await echoServer()
})

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await target?.close()
  await dir?.cleanup()
  await pki?.cleanup()
})

function tunnel (args: string[]): CliProcess {
  const p = runCli(['tunnel', ...args], {})
  started.push(p)
  return p
}

const reverseArgs = (): string[] => [
  'reverse', '--listen', '127.0.0.1:0', '--connect', target.address,
  '--cert', pki.server.chainPath, '--key', pki.server.keyPath, '--ca', pki.trust.path, '--allow-cn', 'ec'
]
const forwardArgs = (listen: string, connect: string): string[] => [
  'forward', '--listen', listen, '--connect', connect, '--server-name', 'localhost',
  '--cert', pki.devices.ec.chainPath, '--key', pki.devices.ec.keyPath, '--ca', pki.root.certPath
]

/** The address a tunnel process listens on, from its log. */
async function listening (p: CliProcess): Promise<string> {
  return String((await p.waitFor((l) => l.event === 'tunnel_listening')).listen)
}

async function echoOf (address: string, text: string): Promise<string> {
  const s = await connected(address)
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString() })
  s.end(text)
  await new Promise((resolve) => s.once('end', resolve))
  s.destroy()
  return got
}

/** Runs a command that must fail; resolves with its exit code, stderr and the fatal log line (if any). */
interface Failure { code: number | null, stderr: string, fatal?: Record<string, unknown> }

async function failing (args: string[]): Promise<Failure> {
  const p = runCli(args, {})
  started.push(p)
  const code = await p.exited
  const fatal = p.lines.find((l) => l.level === 'fatal')
  return { code, stderr: p.stderr(), ...(fatal !== undefined ? { fatal } : {}) }
}

const fatalMessage = (f: Record<string, unknown> | undefined): string =>
  String((f?.err as { message?: string })?.message)

describe('tunnel forward | reverse as real processes', () => {
  it('a pair carries bytes; SIGTERM lets an open connection finish, refuses new ones and exits 0', async () => {
    const reverse = tunnel(reverseArgs())
    const remote = await listening(reverse)
    const forward = tunnel(forwardArgs(`unix:${join(dir.dir, 'cli.sock')}`, remote))
    const local = await listening(forward)
    expect(local).toBe(`unix:${join(dir.dir, 'cli.sock')}`)
    expect(await echoOf(local, 'through two processes')).toBe('through two processes')

    const open = await connected(local)
    let got = ''
    open.on('data', (d: Buffer) => { got += d.toString() })
    open.write('before ')
    expect(await eventually(() => got === 'before ', 10_000)).toBe(true)
    forward.child.kill('SIGTERM')
    await forward.waitFor((l) => l.event === 'shutdown')
    // the listener is gone (its socket file removed), the open connection still works
    const late = connectTo(local)
    const lateError = await new Promise<string | undefined>((resolve) => {
      late.once('error', (e: NodeJS.ErrnoException) => resolve(e.code))
      late.once('connect', () => resolve(undefined))
    })
    expect(lateError).toBe('ENOENT')
    open.end('after SIGTERM')
    await new Promise((resolve) => open.once('end', resolve))
    expect(got).toBe('before after SIGTERM')
    expect(await forward.exited).toBe(0)
    expect(forward.lines.some((l) => l.event === 'shutdown_forced')).toBe(false)

    reverse.child.kill('SIGTERM')
    expect(await reverse.exited).toBe(0)
    const carried = reverse.lines.filter((l) => l.event === 'tunnel_connection' && l.reason !== undefined)
    expect(carried.map((l) => (l.peer as { cn?: string }).cn)).toEqual(['ec', 'ec'])
  }, 60_000)
})

describe('bad values on the command line', () => {
  it('an unknown flag, a bad number or an unknown mode: one line on stderr, exit 2', async () => {
    const unknown = await failing(['tunnel', ...reverseArgs(), '--bogus'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("tunnel reverse: unknown option '--bogus'")
    const number = await failing(['tunnel', ...reverseArgs(), '--max-connections', 'many'])
    expect(number).toMatchObject({ code: 2 })
    expect(number.stderr).toContain('--max-connections must be a whole number')
    const mode = await failing(['tunnel', 'sideways'])
    expect(mode.code).toBe(2)
    expect(mode.stderr).toContain("unknown mode 'sideways' (forward or reverse)")
  }, 60_000)

  it('a bad address: exit 1, MTLS_ERR_CONFIG_INVALID naming the tunnel and the field', async () => {
    const bad = await failing(['tunnel', ...forwardArgs('127.0.0.1:0', 'controller-without-port')])
    expect(bad.code).toBe(1)
    expect(bad.fatal?.code).toBe('MTLS_ERR_CONFIG_INVALID')
    expect(fatalMessage(bad.fatal)).toContain("tunnels[0] (forward).connect: missing ':port' in 'controller-without-port'")
  }, 30_000)

  it('a missing certificate: exit 1, MTLS_ERR_TLS_MATERIAL naming the tunnel and the file', async () => {
    const args = forwardArgs('127.0.0.1:0', '127.0.0.1:2021')
    args[args.indexOf('--cert') + 1] = join(dir.dir, 'missing.crt')
    const missing = await failing(['tunnel', ...args])
    expect(missing.code).toBe(1)
    expect(missing.fatal?.code).toBe('MTLS_ERR_TLS_MATERIAL')
    expect(fatalMessage(missing.fatal)).toContain(`tunnel forward: cert ${join(dir.dir, 'missing.crt')}: ENOENT`)
  }, 30_000)

  it('a reverse tunnel without any allow rule: exit 1, told to say who may connect', async () => {
    const open = await failing(['tunnel', ...reverseArgs().slice(0, -2)])
    expect(open.code).toBe(1)
    expect(open.fatal?.code).toBe('MTLS_ERR_CONFIG_INVALID')
    expect(fatalMessage(open.fatal)).toContain('say who may connect: at least one allow_* rule, or allow_all: true')
  }, 30_000)
})

describe('a YAML file of several tunnels', () => {
  const write = (name: string, tunnels: Array<Record<string, unknown>>): string => {
    const file = join(dir.dir, name)
    // JSON is YAML; the tunnels keep their YAML keys
    writeFileSync(file, `status_listen: "off"\ntunnels: ${JSON.stringify(tunnels)}\n`)
    return file
  }
  const common = (): Record<string, unknown> => ({
    cert: pki.server.chainPath, key: pki.server.keyPath, ca: pki.trust.path
  })

  it('reports the problems of every tunnel together (check-config and serve), exit 1', async () => {
    const file = write('two-errors.yaml', [
      { name: 'agent', mode: 'forward', listen: 'unix:/run/agent.sock', connect: 'controller', ...common() },
      { name: 'controller', mode: 'reverse', listen: '127.0.0.1:0', connect: target.address, ...common() }
    ])
    const check = await failing(['check-config', '--config', file])
    expect(check.code).toBe(1)
    expect(check.stderr).toContain("tunnels[0] (agent).connect: missing ':port' in 'controller'")
    expect(check.stderr).toContain('tunnels[1] (controller): say who may connect')
    const serve = await failing(['serve', '--config', file])
    expect(serve.code).toBe(1)
    const message = fatalMessage(serve.fatal)
    expect(message).toContain("tunnels[0] (agent).connect: missing ':port' in 'controller'")
    expect(message).toContain('tunnels[1] (controller): say who may connect')
  }, 60_000)

  it('reports the missing material of every tunnel together (serve and check-config)', async () => {
    const file = write('two-missing.yaml', [
      { name: 'one', mode: 'reverse', listen: '127.0.0.1:0', connect: target.address, allow_all: true, ...common(), cert: join(dir.dir, 'a.crt') },
      { name: 'two', mode: 'reverse', listen: '127.0.0.1:0', connect: target.address, allow_all: true, ...common(), ca: join(dir.dir, 'b.pem') },
      { name: 'three', mode: 'reverse', listen: '127.0.0.1:0', connect: target.address, allow_all: true, ...common(), key: pki.devices.ec.keyPath }
    ])
    const serve = await failing(['serve', '--config', file])
    expect(serve.code).toBe(1)
    expect(serve.fatal?.code).toBe('MTLS_ERR_TLS_MATERIAL')
    const check = await failing(['check-config', '--config', file])
    expect(check.code).toBe(1)
    expect(check.stderr).toMatch(/^MTLS_ERR_TLS_MATERIAL: /)
    for (const message of [fatalMessage(serve.fatal), check.stderr]) {
      expect(message).toContain(`tunnel one: cert ${join(dir.dir, 'a.crt')}: ENOENT`)
      expect(message).toContain(`tunnel two: ca ${join(dir.dir, 'b.pem')}: ENOENT`)
      expect(message).toContain('tunnel three: key does not match the cert')
    }
  }, 60_000)

  it('runs several valid tunnels from one file', async () => {
    const file = write('pair.yaml', [
      { name: 'in', mode: 'reverse', listen: '127.0.0.1:0', connect: target.address, allow_cn: ['ec'], ...common() }
    ])
    const p = runCli(['serve', '--config', file], {})
    started.push(p)
    const remote = await listening(p)
    const file2 = write('fwd.yaml', [
      { name: 'out-a', mode: 'forward', listen: '127.0.0.1:0', connect: remote, server_name: 'localhost', cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath, ca: pki.root.certPath },
      { name: 'out-b', mode: 'forward', listen: `unix:${join(dir.dir, 'b.sock')}`, connect: remote, server_name: 'localhost', cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath, ca: pki.root.certPath }
    ])
    const f = runCli(['serve', '--config', file2], {})
    started.push(f)
    await f.waitFor((l) => l.event === 'listening')
    const addresses = f.lines.filter((l) => l.event === 'tunnel_listening').map((l) => String(l.listen))
    expect(addresses).toHaveLength(2)
    for (const a of addresses) expect(await echoOf(a, `via ${a}`)).toBe(`via ${a}`)
    f.child.kill('SIGTERM')
    p.child.kill('SIGTERM')
    expect(await f.exited).toBe(0)
    expect(await p.exited).toBe(0)
  }, 60_000)
})
