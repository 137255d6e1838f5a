// The compose tunnel demos (profiles dbus and sidecar) run outside containers with their own files: the tunnel-certs
// one-shot's script issues the certificates from a demo PKI, a real dbus-daemon reads extra/compose/dbus-bus.conf,
// and the tunnels run the configurations of extra/compose — container paths moved under a temporary folder, listen
// ports made free ones and each forward tunnel sent to its peer's real port under the host name its file names.
// Runs as root, like the other e2e suites: the one-shot hands keys and socket folders to UID 65534.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, get, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { writeDemoPki } from '../../src/tools/pki/index.js'
import { eventuallyAsync } from '../support/device.js'
import { REPO_ROOT } from '../support/process.js'
import { missingTools, runTool } from '../support/tools.js'
import { startTunnels, type TunnelsHandle } from '../support/tunnel.js'
import { composeFile, type Doc } from '../deploy/support/repo-files.js'

let dir: string
/** Container paths of the one-shot's script, and of the configuration files, under the temporary folder. */
let scriptMoves: Array<[string, string]>
let configMoves: Array<[string, string]>
const started: TunnelsHandle[] = []
let bus: ChildProcess | undefined
let app: Server

const move = (moves: Array<[string, string]>, text: string): string =>
  moves.reduce((t, [from, to]) => t.replaceAll(from, to), text)
const moved = (text: string): string => move(configMoves, text)

/** The one tunnel of an extra/compose file, container paths moved, listening on a free port. */
async function tunnelOf (file: string, changes: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const doc = parse(moved(await readFile(join(REPO_ROOT, 'extra/compose', file), 'utf8'))) as { tunnels: Doc[] }
  const t = { ...doc.tunnels[0] }
  if (!String(t.listen).startsWith('unix:')) t.listen = '127.0.0.1:0'
  return { ...t, ...changes }
}

async function run (tunnel: Record<string, unknown>): Promise<TunnelsHandle> {
  const handle = await startTunnels([tunnel], { log_level: 'warn' })
  started.push(handle)
  return handle
}

/** The forward tunnel of `file` sent to `peer`'s real address, still verifying the host name its file connects to. */
async function forwardTo (file: string, peer: string, expectedHost: string): Promise<Record<string, unknown>> {
  const t = await tunnelOf(file)
  const host = String(t.connect).slice(0, String(t.connect).lastIndexOf(':'))
  expect(host).toBe(expectedHost)
  return { ...t, connect: peer, server_name: host }
}

async function startBus (): Promise<void> {
  const conf = join(dir, 'bus.conf')
  await writeFile(conf, moved(await readFile(join(REPO_ROOT, 'extra/compose/dbus-bus.conf'), 'utf8')))
  bus = spawn('dbus-daemon', ['--config-file', conf, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] })
  await new Promise<void>((resolve, reject) => {
    bus?.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('unix:')) resolve() })
    bus?.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${String(code)}`)))
  })
}

beforeAll(async () => {
  expect(missingTools(['dbus-daemon', 'dbus-send'])).toEqual([])
  dir = await mkdtemp(join(tmpdir(), 'compose-tunnels-'))
  scriptMoves = [['/tmp/', `${dir}/tmp/`], ['/certs/', `${dir}/certs/`], ['/tunnel/', `${dir}/tunnel/`],
    ['/sockets/bus', `${dir}/bus`], ['/sockets/agent', `${dir}/agent`], ['cd /app', `cd ${REPO_ROOT}`],
    ['node dist/cli.js', 'node --import tsx src/cli.ts']]
  configMoves = [['/etc/mtls/tunnel', `${dir}/tunnel`], ['/run/dbus-demo', `${dir}/bus`], ['/run/dbus-agent', `${dir}/agent`]]
  await writeDemoPki(join(dir, 'certs'))
  for (const d of ['tmp', 'tunnel', 'bus', 'agent']) await mkdir(join(dir, d))
  const oneShot = ((composeFile().services as Record<string, Doc>)['tunnel-certs']?.command as string[])[0] ?? ''
  const issued = await runTool('sh', ['-ec', move(scriptMoves, oneShot)], 120_000)
  expect(issued.code, issued.stderr).toBe(0)
  app = createServer((req, res) => res.end(`app saw ${req.url ?? ''}`))
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
}, 180_000)

afterAll(async () => {
  for (const t of started.reverse()) await t.close()
  bus?.kill('SIGTERM')
  await new Promise((resolve) => app?.close(resolve))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('compose profile dbus, outside containers', () => {
  it('lists the bus names with dbus-send through agent → controller → dbus-daemon', async () => {
    await startBus()
    const controller = await run(await tunnelOf('dbus-controller.yaml'))
    const agent = await run(await forwardTo('dbus-agent.yaml', controller.address('dbus-controller'), 'dbus-controller'))
    const socket = agent.address('dbus-agent').slice('unix:'.length)
    expect(socket).toBe(`${dir}/agent/agent.sock`)
    const answer = await runTool('dbus-send', [`--bus=unix:path=${socket}`, '--print-reply', '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus', 'org.freedesktop.DBus.ListNames'])
    expect(answer.code, answer.stderr).toBe(0)
    expect(answer.stdout).toContain('string "org.freedesktop.DBus"')
    const carried = async (): Promise<boolean> =>
      await controller.metric('mtls_tunnel_connections_total', { tunnel: 'dbus-controller', result: 'ok' }) === 1
    expect(await eventuallyAsync(carried, 10_000)).toBe(true)
  })
})

describe('compose profile sidecar, outside containers', () => {
  let server: TunnelsHandle

  beforeAll(async () => {
    const appPort = (app.address() as { port: number }).port
    const t = await tunnelOf('sidecar-server.yaml')
    expect(t.connect).toBe('127.0.0.1:3000')
    server = await run({ ...t, connect: `127.0.0.1:${appPort}` })
  })

  it('carries a request from the client proxy to the app through the server proxy', async () => {
    const client = await run(await forwardTo('sidecar-client.yaml', server.address('sidecar-server'), 'sidecar-app'))
    const body = await new Promise<string>((resolve, reject) => {
      get(`http://${client.address('sidecar-client')}/through-the-pair`, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => resolve(text))
      }).on('error', reject)
    })
    expect(body).toBe('app saw /through-the-pair')
  })

  it('refuses the other demo\'s client certificate (allow_cn)', async () => {
    const address = server.address('sidecar-server')
    const answered = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: Number(address.slice(address.lastIndexOf(':') + 1)),
        servername: 'sidecar-app',
        ca: [readFileSync(`${dir}/tunnel/ca.pem`, 'utf8')],
        cert: readFileSync(`${dir}/tunnel/dbus-agent.crt`, 'utf8'),
        key: readFileSync(`${dir}/tunnel/dbus-agent.key`, 'utf8')
      }, () => s.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
      let got = ''
      s.on('data', (d: Buffer) => { got += d.toString() })
      s.on('error', () => resolve(false))
      s.on('close', () => resolve(got.includes('app saw')))
    })
    expect(answered).toBe(false)
    const refused = async (): Promise<boolean> =>
      await server.metric('mtls_tunnel_connections_total', { tunnel: 'sidecar-server', result: 'refused' }) === 1
    expect(await eventuallyAsync(refused, 10_000)).toBe(true)
  })
})
