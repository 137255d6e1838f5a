// extra/systemd as shipped: `systemd-analyze verify` accepts every unit without a warning (the binary path pointed
// at one that exists here), each service loads a valid configuration whose `listen: systemd:NAME` is the
// FileDescriptorName of its socket unit, and the units say what the README promises (Type=notify, SIGHUP reload).
// Then both configurations run under socket activation (systemd-socket-activate hands each its named socket, as the
// socket units would) as the double proxy in front of a real dbus-daemon, and a D-Bus call goes through.
import { describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parse, stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { startPrivateBus } from '../../src/tools/demo-tunnel/bus.js'
import { makeTestPki } from '../support/pki.js'
import { REPO_ROOT } from '../support/process.js'
import { missingTools, runTool } from '../support/tools.js'
import { eventually } from '../support/device.js'

const DIR = join(REPO_ROOT, 'extra', 'systemd')
const BINARY = '/usr/local/bin/mtls-ambassador'

/** The values of `key=` in a unit file, in order. */
const values = (unit: string, key: string): string[] =>
  [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim())

describe('extra/systemd', () => {
  it('systemd-analyze verify accepts every unit, without a warning', async () => {
    expect(missingTools(['systemd-analyze'])).toEqual([])
    const units = (await readdir(DIR)).filter((f) => /\.(service|socket)$/.test(f))
    expect(units.sort()).toEqual(['mtls-tunnel-forward.service', 'mtls-tunnel-forward.socket',
      'mtls-tunnel-reverse.service', 'mtls-tunnel-reverse.socket'])
    const tmp = await mkdtemp(join(tmpdir(), 'units-'))
    try {
      for (const u of units) {
        const text = await readFile(join(DIR, u), 'utf8')
        await writeFile(join(tmp, u), text.replaceAll(BINARY, process.execPath))
      }
      const r = await runTool('systemd-analyze', ['verify', ...units.map((u) => join(tmp, u))], 60_000)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }, 90_000)

  for (const side of ['forward', 'reverse']) {
    it(`the ${side} service loads a valid config listening on its socket unit's FileDescriptorName`, async () => {
      const service = await readFile(join(DIR, `mtls-tunnel-${side}.service`), 'utf8')
      const socket = await readFile(join(DIR, `mtls-tunnel-${side}.socket`), 'utf8')
      expect(values(service, 'Type')).toEqual(['notify'])
      expect(values(service, 'ExecReload')).toEqual(['kill -HUP $MAINPID'])
      expect(values(service, 'Requires')).toEqual([`mtls-tunnel-${side}.socket`])
      expect(values(socket, 'Service')).toEqual([`mtls-tunnel-${side}.service`])
      const [exec] = values(service, 'ExecStart')
      const configPath = /--config (\S+)/.exec(exec ?? '')?.[1] ?? ''
      expect(exec?.startsWith(`${BINARY} serve `)).toBe(true)
      const config = loadConfig({ file: join(DIR, basename(configPath)), env: {} })
      expect(config.tunnels.map((t) => t.mode)).toEqual([side])
      const [name] = values(socket, 'FileDescriptorName')
      expect(config.tunnels[0]?.listen).toBe(`systemd:${name ?? ''}`)
    })
  }

  it('the forward socket is a Unix socket with mode 0660', async () => {
    const socket = await readFile(join(DIR, 'mtls-tunnel-forward.socket'), 'utf8')
    expect(values(socket, 'ListenStream')[0]).toMatch(/^\/run\/.+\.sock$/)
    expect(values(socket, 'SocketMode')).toEqual(['0660'])
  })
})

/** A free loopback port (bound, then released). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The shipped YAML of one side with `changes` merged into its tunnel and the status listener on a free port. */
async function config (side: string, dir: string, changes: Record<string, unknown>): Promise<string> {
  const text = await readFile(join(DIR, `tunnel-${side}.yaml`), 'utf8')
  const doc = parse(text) as { tunnels: Array<Record<string, unknown>> }
  const file = join(dir, `tunnel-${side}.yaml`)
  await writeFile(file, stringify({ ...doc, status_listen: '127.0.0.1:0', tunnels: [{ ...doc.tunnels[0], ...changes }] }))
  return file
}

/** `mtls-ambassador serve --config file` under systemd-socket-activate: `listen` bound and handed over as `name`. */
function activated (listen: string, name: string, file: string): { child: ChildProcess, output: () => string } {
  const child = spawn('systemd-socket-activate', ['-l', listen, `--fdname=${name}`,
    process.execPath, '--import', 'tsx', 'src/cli.ts', 'serve', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  return { child, output: () => output }
}

describe('extra/systemd configurations under socket activation', () => {
  it('forward (systemd:agent, a Unix socket) → reverse (systemd:controller, TCP) → dbus-daemon', async () => {
    expect(missingTools(['systemd-socket-activate', 'dbus-daemon', 'dbus-send'])).toEqual([])
    const dir = await mkdtemp(join(tmpdir(), 'act-'))
    const pki = await makeTestPki(join(dir, 'pki'))
    const agent = await pki.device('agent-1', 'ec', { subject: 'CN=agent-1, OU=bluechi-agents' })
    const bus = await startPrivateBus(dir)
    const children: ChildProcess[] = []
    try {
      const port = await freePort()
      const reverse = await config('reverse', dir, {
        connect: `unix:${bus.socket}`, cert: pki.server.chainPath, key: pki.server.keyPath, ca: pki.trust.path, crl_paths: []
      })
      const forward = await config('forward', dir, {
        connect: `127.0.0.1:${port}`, cert: agent.chainPath, key: agent.keyPath, ca: pki.root.certPath
      })
      const controller = activated(`127.0.0.1:${port}`, 'controller', reverse)
      const sock = join(dir, 'agent.sock')
      const agentSide = activated(sock, 'agent', forward)
      children.push(controller.child, agentSide.child)
      // systemd-socket-activate binds, says so, and starts the service on the first connection
      expect(await eventually(() => controller.output().includes('Listening on') && agentSide.output().includes('Listening on'),
        20_000)).toBe(true)
      const r = await runTool('dbus-send', [`--bus=unix:path=${sock}`, '--print-reply', '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames'], 40_000)
      expect(r.code, r.stderr + controller.output() + agentSide.output()).toBe(0)
      expect(r.stdout).toContain('string "org.freedesktop.DBus"')
      expect(agentSide.output()).toMatch(/"event":"tunnel_listening","tunnel":"agent".*"listen":"[^"]*"/)
      expect(controller.output()).toContain('"tunnel":"controller"')
    } finally {
      for (const c of children) {
        if (c.exitCode === null) {
          c.kill('SIGTERM')
          await once(c, 'close')
        }
      }
      await bus.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
