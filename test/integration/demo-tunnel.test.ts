// The tunnel demos as a user runs them (`npm run demo:dbus`, `npm run demo:sidecar`), real processes: with --once
// each makes its call through the pair of tunnels, prints the answer and the tunnels' log lines and exits 0; the
// sidecar demo also keeps running without it, its printed curl command works, and SIGTERM ends it with 0.
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/process.js'
import { eventually } from '../support/device.js'
import { runTool } from '../support/tools.js'
import { Writable } from 'node:stream'
import { runDbusDemo } from '../../src/tools/demo-tunnel/dbus.js'
import { runSidecarDemo } from '../../src/tools/demo-tunnel/sidecar.js'

/** A stream keeping what is written to it. */
function collector (): { out: Writable, text: () => string } {
  let text = ''
  const out = new Writable({ write (chunk: Buffer, _enc, cb) { text += chunk.toString(); cb() } })
  return { out, text: () => text }
}

const closedLines = (out: string, tunnel: string): number =>
  out.split('\n').filter((l) => l.includes('"event":"tunnel_connection"') && l.includes(`"tunnel":"${tunnel}"`) &&
    l.includes('"msg":"tunnel connection closed"')).length

describe('demo dbus', () => {
  it('--once: lists the bus names through agent → controller → dbus-daemon, logs the connection, exits 0', async () => {
    const p = runCli(['demo', 'dbus', '--once', '--port', '0'], {})
    expect(await p.exited).toBe(0)
    const out = p.stdout()
    expect(out).toContain('mtls-ambassador demo dbus')
    expect(out).toMatch(/method return .*sender=org\.freedesktop\.DBus/)
    expect(out).toContain('string "org.freedesktop.DBus"')
    expect(closedLines(out, 'controller')).toBeGreaterThanOrEqual(1)
    expect(out).toContain('"cn":"device-ec"')
    expect(closedLines(out, 'agent')).toBeGreaterThanOrEqual(1)
  }, 60_000)
})

describe('demos in process (--once)', () => {
  it('demo dbus and demo sidecar answer --help and run their check', async () => {
    const help = collector()
    expect(await runDbusDemo(['--help'], help.out)).toBe(0)
    expect(await runSidecarDemo(['--help'], help.out)).toBe(0)
    expect(help.text()).toContain('usage: mtls-ambassador demo dbus')
    expect(help.text()).toContain('usage: mtls-ambassador demo sidecar')
    const dbus = collector()
    expect(await runDbusDemo(['--once', '--port', '0'], dbus.out)).toBe(0)
    expect(dbus.text()).toContain('string "org.freedesktop.DBus"')
    const sidecar = collector()
    expect(await runSidecarDemo(['--once', '--client-port', '0', '--server-port', '0', '--app-port', '0'], sidecar.out)).toBe(0)
    expect(sidecar.text()).toContain('HTTP 200')
    expect(closedLines(sidecar.text(), 'server-proxy')).toBeGreaterThanOrEqual(1)
  }, 60_000)
})

describe('demo sidecar', () => {
  it('--once: one request through client proxy → server proxy → app, logged by both proxies, exits 0', async () => {
    const p = runCli(['demo', 'sidecar', '--once', '--client-port', '0', '--server-port', '0', '--app-port', '0'], {})
    expect(await p.exited).toBe(0)
    const out = p.stdout()
    expect(out).toContain('HTTP 200\nhello from the app behind the sidecar pair: GET /hello')
    expect(closedLines(out, 'client-proxy')).toBeGreaterThanOrEqual(1)
    expect(closedLines(out, 'server-proxy')).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it('keeps running: the curl commands it prints work (through the pair, direct mTLS, refused without a certificate)', async () => {
    const p = runCli(['demo', 'sidecar', '--client-port', '0', '--server-port', '0', '--app-port', '0'], {})
    try {
      expect(await eventually(() => p.stdout().includes('Running until Ctrl-C.'), 30_000)).toBe(true)
      const commands = [...p.stdout().matchAll(/^ {2}curl (.+?)(?: {2,}#.*)?$/gm)].map((m) => (m[1] ?? '').split(' '))
      expect(commands).toHaveLength(3)
      const [pair, direct, refused] = await Promise.all(commands.map(async (args) => await runTool('curl', ['-sS', ...args])))
      expect(pair).toMatchObject({ code: 0, stdout: 'hello from the app behind the sidecar pair: GET /hello\n' })
      expect(direct).toMatchObject({ code: 0, stdout: 'hello from the app behind the sidecar pair: GET /direct\n' })
      expect(refused?.code).not.toBe(0)
      expect(refused?.stdout).toBe('')
    } finally {
      p.child.kill('SIGTERM')
    }
    expect(await p.exited).toBe(0)
  }, 60_000)
})
