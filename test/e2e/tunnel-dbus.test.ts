// D-Bus through the double proxy: a real private dbus-daemon sits behind a reverse tunnel (mTLS on loopback TCP →
// the bus's Unix socket) and every client — dbus-send, busctl, gdbus, dbus-monitor and a test service that registers
// a well-known name — talks to the forward tunnel's Unix socket only. EXTERNAL authentication works because the bus
// checks the uid a client claims against its socket peer, which is the reverse tunnel (this process, same uid): the
// bus authenticates the proxy, not the remote client, as the peer-credential assertions show. A client certificate
// the reverse tunnel refuses gets nothing from the bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { connectTo, forwardTunnel, reverseTunnel, socketDir, startTunnels, type TunnelsHandle } from '../support/tunnel.js'
import { eventually } from '../support/device.js'
import { connectPeer, requestName, type DbusPeer } from '../support/dbus-peer.js'
import { missingTools, runTool } from '../support/tools.js'
import { startPrivateBus, type PrivateBus } from '../../src/tools/demo-tunnel/bus.js'

const TOOLS = ['dbus-daemon', 'dbus-send', 'dbus-monitor', 'busctl', 'gdbus']
const SERVICE = 'org.example.Echo'
const PATH = '/org/example/Echo'

let pki: TestPki
let dir: Awaited<ReturnType<typeof socketDir>>
let bus: PrivateBus
let reverse: TunnelsHandle
let forward: TunnelsHandle
let service: DbusPeer
/** The forward tunnel's socket as a D-Bus address. */
let agent: string

beforeAll(async () => {
  const missing = missingTools(TOOLS)
  if (missing.length > 0) {
    throw new Error(`missing D-Bus tools: ${missing.join(', ')} (Debian: apt-get install dbus-daemon dbus systemd libglib2.0-bin)`)
  }
  pki = await makeTestPki()
  dir = await socketDir()
  bus = await startPrivateBus(dir.dir)
  const outsider = await pki.device('outsider')
  reverse = await startTunnels([reverseTunnel(pki, `unix:${bus.socket}`, { allow_all: false, allow_cn: ['ec'] })])
  const remote = reverse.address('reverse')
  forward = await startTunnels([
    forwardTunnel(pki, pki.devices.ec, `unix:${dir.dir}/agent.sock`, remote),
    forwardTunnel(pki, outsider, `unix:${dir.dir}/outsider.sock`, remote, { name: 'outsider' }),
    forwardTunnel(pki, pki.devices.foreign, `unix:${dir.dir}/foreign.sock`, remote, { name: 'foreign' })
  ])
  agent = `unix:path=${dir.dir}/agent.sock`
  service = await connectPeer(`${dir.dir}/agent.sock`)
  expect(await requestName(service, SERVICE)).toBe(1)
  service.serve((m) => m.iface === SERVICE && m.member === 'Echo' ? [`echo: ${String(m.args[0])}`] : undefined)
})

afterAll(async () => {
  service?.close()
  await forward?.close()
  await reverse?.close()
  await bus?.stop()
  await dir?.cleanup()
  await pki?.cleanup()
})

/** A carried connection's closing log line. */
const closed = (l: Record<string, unknown>): boolean => l.event === 'tunnel_connection' && l.msg === 'tunnel connection closed'

/** `dbus-send --print-reply` of a bus method through the forward tunnel. */
async function busMethod (member: string, ...args: string[]): Promise<string> {
  const r = await runTool('dbus-send', [`--bus=${agent}`, '--print-reply', '--dest=org.freedesktop.DBus',
    '/org/freedesktop/DBus', `org.freedesktop.DBus.${member}`, ...args])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return r.stdout
}

const hex = (text: string): string => Buffer.from(text).toString('hex')

/** The SASL exchange by hand on the forward socket: each line sent after the previous answer; the answers. */
async function authLines (lines: string[]): Promise<string[]> {
  const s = connectTo(`unix:${dir.dir}/agent.sock`)
  s.on('error', () => {})
  let buf = ''
  s.on('data', (d: Buffer) => { buf += d.toString() })
  await once(s, 'connect')
  s.write('\0')
  const answers: string[] = []
  for (const line of lines) {
    s.write(`${line}\r\n`)
    expect(await eventually(() => buf.includes('\r\n'), 10_000)).toBe(true)
    answers.push(buf.slice(0, buf.indexOf('\r\n')))
    buf = buf.slice(buf.indexOf('\r\n') + 2)
  }
  s.destroy()
  return answers
}

describe('D-Bus through forward (Unix) → mTLS → reverse → dbus-daemon', { timeout: 90_000 }, () => {
  it('lists the bus names, the test service registered through the tunnel among them (dbus-send, busctl)', async () => {
    const names = await busMethod('ListNames')
    expect(names).toContain('string "org.freedesktop.DBus"')
    expect(names).toContain(`string "${SERVICE}"`)
    expect(names).toContain(`string "${service.uniqueName}"`)
    const list = await runTool('busctl', [`--address=${agent}`, 'list', '--no-pager'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(new RegExp(`^${SERVICE.replace(/\./g, '\\.')}\\s`, 'm'))
  })

  it('calls a method of the test service and gets its answer (dbus-send, busctl, gdbus)', async () => {
    const sent = await runTool('dbus-send', [`--bus=${agent}`, '--print-reply', `--dest=${SERVICE}`, PATH,
      `${SERVICE}.Echo`, 'string:hello through the tunnel'])
    expect(sent.code).toBe(0)
    expect(sent.stdout).toContain('string "echo: hello through the tunnel"')
    const called = await runTool('busctl', [`--address=${agent}`, 'call', SERVICE, PATH, SERVICE, 'Echo', 's', 'from busctl'])
    expect(called).toMatchObject({ code: 0, stdout: 's "echo: from busctl"\n' })
    const g = await runTool('gdbus', ['call', '--address', agent, '--dest', SERVICE, '--object-path', PATH,
      '--method', `${SERVICE}.Echo`, 'from gdbus'])
    expect(g).toMatchObject({ code: 0, stdout: "('echo: from gdbus',)\n" })
  })

  it('delivers a signal emitted by one client to another (dbus-send --type=signal → dbus-monitor)', async () => {
    const monitor = spawn('dbus-monitor', ['--address', agent, `type='signal',interface='${SERVICE}'`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let seen = ''
    monitor.stdout.on('data', (d: Buffer) => { seen += d.toString() })
    try {
      // the monitor subscribes asynchronously: emit until it reports the signal (bounded)
      for (let i = 0; i < 40 && !seen.includes('string "ping 1"'); i++) {
        const r = await runTool('dbus-send', [`--bus=${agent}`, '--type=signal', PATH, `${SERVICE}.Ping`, 'string:ping 1'])
        expect(r.code).toBe(0)
        await eventually(() => seen.includes('string "ping 1"'), 500)
      }
      expect(seen).toMatch(/signal .*interface=org\.example\.Echo; member=Ping/)
      expect(seen).toContain('string "ping 1"')
    } finally {
      monitor.kill('SIGTERM')
      await once(monitor, 'close')
    }
  })

  it('the bus sees the reverse proxy as the peer: its uid and pid, not the remote client\'s', async () => {
    const uid = await busMethod('GetConnectionUnixUser', `string:${SERVICE}`)
    expect(uid).toContain(`uint32 ${process.getuid?.() ?? 0}`)
    const pid = await busMethod('GetConnectionUnixProcessID', `string:${SERVICE}`)
    expect(pid).toContain(`uint32 ${process.pid}`)
  })

  it('EXTERNAL authenticates the proxy\'s uid: another uid claimed is rejected, no claim (sd-bus) passes as the proxy', async () => {
    const other = await authLines([`AUTH EXTERNAL ${hex(String((process.getuid?.() ?? 0) + 4242))}`])
    expect(other[0]).toMatch(/^REJECTED/)
    const none = await authLines(['AUTH EXTERNAL', 'DATA'])
    expect(none[0]).toBe('DATA')
    expect(none[1]).toMatch(/^OK [0-9a-f]{32}$/)
  })

  it('carries every connection through both tunnels, logged with the client certificate\'s identity', async () => {
    await busMethod('GetId')
    expect(await eventually(() => reverse.logs.some((l) => closed(l) && (l.peer as { cn?: string } | undefined)?.cn === 'ec' &&
      Number(l.bytesIn) > 0 && Number(l.bytesOut) > 0), 10_000)).toBe(true)
    expect(await eventually(() => forward.logs.some((l) => closed(l) && l.tunnel === 'forward' &&
      Number(l.bytesIn) > 0 && Number(l.bytesOut) > 0), 10_000)).toBe(true)
  })

  const refused: Array<[string, string]> = [['outsider', 'MTLS_ERR_TLS_ACCESS_DENIED'], ['foreign', 'MTLS_ERR_TLS_UNKNOWN_CA']]
  for (const [name, code] of refused) {
    it(`a refused client certificate (${name}) gets nothing from the bus`, async () => {
      const socket = `${dir.dir}/${name}.sock`
      const r = await runTool('dbus-send', [`--bus=unix:path=${socket}`, '--print-reply', '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames'])
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      // the AUTH exchange by hand: not one byte comes back, then the connection ends
      const raw = connectTo(`unix:${socket}`)
      const got: Buffer[] = []
      raw.on('data', (d: Buffer) => got.push(d))
      raw.on('error', () => {})
      raw.write(Buffer.from(`\0AUTH EXTERNAL ${hex(String(process.getuid?.() ?? 0))}\r\n`))
      await Promise.race([once(raw, 'end'), once(raw, 'close')])
      raw.destroy()
      expect(Buffer.concat(got).length).toBe(0)
      expect(await eventually(() => reverse.withCode(code).length > 0, 10_000)).toBe(true)
      expect(reverse.logs.some((l) => closed(l) && (l.peer as { cn?: string } | undefined)?.cn === name)).toBe(false)
    })
  }
})
