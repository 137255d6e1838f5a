// Interop with the tools a tunnel replaces, run as real Debian processes on the configurations committed in
// extra/tunnel/ (loaded as templates): our forward tunnel → HAProxy / stunnel reverse proxy → echo, and HAProxy /
// stunnel forward proxy → our reverse tunnel → echo. Each direction carries SHA-256-checked payloads with a
// half-close; our reverse tunnel refuses their client certificates outside its rules, our forward tunnel refuses
// their server certificates with the wrong name; HAProxy also reaches a Unix-socket target. And where socat, run
// as a relay with its defaults, drops the late answer of a half-closed connection, our pair carries it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { issueServerCert } from '../../src/tools/pki/index.js'
import { makeTestPki, type TestCert, type TestPki } from '../support/pki.js'
import { connectTo, forwardTunnel, reverseTunnel, socketDir, startTunnels, type TunnelsHandle } from '../support/tunnel.js'
import { ensureHaproxy, freePort, startHaproxy, type Haproxy } from '../support/haproxy.js'
import { combinedPem, ensureStunnel, fromTemplate, startStunnel, tunnelFromTemplate, type Peer } from '../support/peers.js'
import { receiveHashed, sendHashed, serve, sleep } from '../support/net.js'
import { eventually } from '../support/device.js'

const MIB = 1024 * 1024
const PAYLOAD = 4 * MIB
const gid = String(process.getgid?.() ?? 0)

interface Target { accepted: number, halfClosed: number, port?: number, path?: string, close: () => Promise<void> }

/** An echo target (TCP on loopback, or a Unix socket at `path`) counting connections and received half-closes. */
async function echoTarget (path?: string): Promise<Target> {
  const t: Target = { accepted: 0, halfClosed: 0, close: async () => {} }
  const srv = await serve(path === undefined ? 'tcp' : 'unix', undefined, (s) => {
    t.accepted++
    s.on('error', () => {})
    s.on('end', () => { t.halfClosed++ })
    s.pipe(s)
  }, path)
  return Object.assign(t, { port: srv.endpoint.port, path: srv.endpoint.path, close: srv.close })
}

async function serverCert (pki: TestPki, name: string): Promise<TestCert> {
  const issued = await issueServerCert(pki.root, { cn: name, dns: [name] })
  const base = join(pki.dir, `server-${name}`)
  await writeFile(`${base}.chain.pem`, issued.chainPem)
  await writeFile(`${base}.key.pem`, issued.keyPem, { mode: 0o600 })
  await writeFile(`${base}.pem`, issued.certPem)
  return { ...issued, name, certPath: `${base}.pem`, keyPath: `${base}.key.pem`, chainPath: `${base}.chain.pem` }
}

/** Writes `size` random bytes then ends; the echo must come back whole (same SHA-256), then EOF. */
async function roundTrip (address: string, size = PAYLOAD): Promise<{ sent: string, received: string, bytes: number }> {
  const s = connectTo(address)
  s.on('error', () => {})
  await once(s, 'connect')
  const receiving = receiveHashed(s)
  const sent = await sendHashed(s, size)
  const received = await receiving
  s.destroy()
  return { sent: sent.sha, received: received.sha, bytes: received.bytes }
}

/** Whether the TLS server on `port` resumes a session it issued (a ticket from a first connection, then a second). */
async function resumes (port: number, servername: string, client: TestCert): Promise<boolean> {
  const options = { host: '127.0.0.1', port, servername, ca: pki.root.certPem, cert: client.chainPem, key: client.keyPem }
  const first = tlsConnect(options)
  first.on('error', () => {})
  const session = await new Promise<Buffer>((resolve) => first.once('session', resolve))
  first.destroy()
  const second = tlsConnect({ ...options, session })
  second.on('error', () => {})
  await once(second, 'secureConnect')
  const reused = second.isSessionReused()
  second.destroy()
  return reused
}

/** Five connections at once through `address`, each with its own payload; true when every echo came back whole. */
async function parallelRoundTrips (address: string): Promise<boolean> {
  const results = await Promise.all(Array.from({ length: 5 }, async () => await roundTrip(address, 256 * 1024)))
  return results.every((r) => r.received === r.sent && r.bytes === 256 * 1024)
}

/** Connects, writes a few bytes and resolves with the count of bytes that came back once the connection is closed. */
async function refusedExchange (address: string): Promise<number> {
  const s = connectTo(address)
  let got = 0
  s.on('data', (d: Buffer) => { got += d.length })
  s.on('error', () => {})
  s.on('end', () => s.end()) // the socket allows half-open: answer the peer's end
  s.once('connect', () => s.write('must not arrive'))
  await new Promise((resolve) => s.once('close', resolve))
  return got
}

let pki: TestPki
let dir: Awaited<ReturnType<typeof socketDir>>
let echo: Target
let unixEcho: Target
let ours: TunnelsHandle
const peers: Array<Haproxy | Peer> = []
const PORTS = ['hapReverse', 'hapUnixReverse', 'hapImpostor', 'stunnelReverse', 'stunnelForward', 'stunnelIntruder',
  'stunnelImpostor'] as const
const at = Object.fromEntries(PORTS.map((k) => [k, 0])) as Record<typeof PORTS[number], number>
const paths = { hapForward: '', hapIntruder: '' }

type CertName = 'controller' | 'server' | 'impostor' | 'agent' | 'agentIntruder' | 'client' | 'clientIntruder'
type Certs = Record<CertName, TestCert>
let certs: Certs

async function makeCerts (): Promise<Certs> {
  return {
    controller: await serverCert(pki, 'controller.example.com'),
    server: await serverCert(pki, 'server.example.com'),
    impostor: await serverCert(pki, 'impostor.example.com'),
    agent: await pki.device('agent-1', 'ec', { subject: 'CN=agent-1, OU=bluechi-agents' }),
    agentIntruder: await pki.device('agent-9', 'ec', { subject: 'CN=agent-9, OU=guests' }),
    client: await pki.device('client', 'ec', { dns: ['client.example.com'] }),
    clientIntruder: await pki.device('other-client', 'ec', { dns: ['other.example.com'] })
  }
}

const ca = (): [string, string] => ['/etc/mtls/ca.pem', pki.root.certPath]

/** Our four tunnels, from extra/tunnel/tunnel-{forward,reverse}.yaml, and the two forwards sent to impostors. */
function ourTunnels (): Array<Record<string, unknown>> {
  const agent = tunnelFromTemplate('tunnel-forward.yaml', 'bluechi-agent', [
    ['unix:/run/bluechi/agent.sock', `unix:${dir.dir}/agent.sock`], ['unix_group: bluechi', `unix_group: "${gid}"`],
    ['controller.example.com:2021', `127.0.0.1:${at.hapReverse}`],
    ['/etc/mtls/agent.crt', certs.agent.chainPath], ['/etc/mtls/agent.key', certs.agent.keyPath], ca()
  ])
  const client = tunnelFromTemplate('tunnel-forward.yaml', 'sidecar-client', [
    ['127.0.0.1:8080', '127.0.0.1:0'], ['server.example.com:8081', `127.0.0.1:${at.stunnelReverse}`],
    ['/etc/mtls/client.crt', certs.client.chainPath], ['/etc/mtls/client.key', certs.client.keyPath], ca()
  ])
  const controller = tunnelFromTemplate('tunnel-reverse.yaml', 'bluechi-controller', [
    ['0.0.0.0:2021', '127.0.0.1:0'], ['unix:/run/bluechi/bluechi.sock', `127.0.0.1:${echo.port ?? 0}`],
    ['/etc/mtls/controller.crt', certs.controller.chainPath], ['/etc/mtls/controller.key', certs.controller.keyPath], ca()
  ])
  const server = tunnelFromTemplate('tunnel-reverse.yaml', 'sidecar-server', [
    ['0.0.0.0:8081', '127.0.0.1:0'], ['127.0.0.1:3000', `127.0.0.1:${echo.port ?? 0}`],
    ['/etc/mtls/server.crt', certs.server.chainPath], ['/etc/mtls/server.key', certs.server.keyPath], ca()
  ])
  // the same forward tunnels, sent to a server whose certificate (same CA) names impostor.example.com
  const toImpostor = (t: Record<string, unknown>, name: string, port: number): Record<string, unknown> =>
    ({ ...t, name, listen: '127.0.0.1:0', connect: `127.0.0.1:${port}` })
  return [agent, client, controller, server,
    toImpostor(agent, 'wrong-name-haproxy', at.hapImpostor), toImpostor(client, 'wrong-name-stunnel', at.stunnelImpostor)]
}

async function startHaproxyReverse (port: number, target: string, cert = certs.controller): Promise<Haproxy> {
  const sub = await socketDir()
  const config = fromTemplate('haproxy-reverse.cfg', [
    ['*:2021', `127.0.0.1:${port}`], ['/etc/haproxy/certs/controller.pem', combinedPem(sub.dir, cert)],
    ['/etc/haproxy/certs/ca.pem', pki.root.certPath], ['/run/bluechi/bluechi.sock', target]
  ])
  return await startHaproxy(sub.dir, config, { host: '127.0.0.1', port })
}

async function startHaproxyForward (path: string, agent: TestCert): Promise<Haproxy> {
  const sub = await socketDir()
  const config = fromTemplate('haproxy-forward.cfg', [
    ['/run/bluechi/agent.sock', path], ['group bluechi', `gid ${gid}`],
    ['controller.example.com:2021', ours.address('bluechi-controller')],
    ['/etc/haproxy/certs/agent.pem', combinedPem(sub.dir, agent)], ['/etc/haproxy/certs/ca.pem', pki.root.certPath]
  ])
  return await startHaproxy(sub.dir, config, { path })
}

async function startStunnelForward (name: string, port: number, client: TestCert): Promise<Peer> {
  const config = fromTemplate('stunnel-forward.conf', [
    ['accept = 127.0.0.1:8080', `accept = 127.0.0.1:${port}`], ['server.example.com:8081', ours.address('sidecar-server')],
    ['/etc/stunnel/client.crt', client.chainPath], ['/etc/stunnel/client.key', client.keyPath],
    ['/etc/stunnel/ca.pem', pki.root.certPath]
  ])
  return await startStunnel(dir.dir, name, config, { host: '127.0.0.1', port })
}

async function startStunnelReverse (name: string, port: number, cert = certs.server): Promise<Peer> {
  const config = fromTemplate('stunnel-reverse.conf', [
    ['accept = 8081', `accept = 127.0.0.1:${port}`], ['127.0.0.1:3000', `127.0.0.1:${echo.port ?? 0}`],
    ['/etc/stunnel/server.crt', cert.chainPath], ['/etc/stunnel/server.key', cert.keyPath],
    ['/etc/stunnel/ca.pem', pki.root.certPath]
  ])
  return await startStunnel(dir.dir, name, config, { host: '127.0.0.1', port })
}

beforeAll(async () => {
  ensureHaproxy()
  ensureStunnel()
  pki = await makeTestPki()
  dir = await socketDir()
  certs = await makeCerts()
  echo = await echoTarget()
  unixEcho = await echoTarget(join(dir.dir, 'controller.sock'))
  for (const k of Object.keys(at) as Array<keyof typeof at>) at[k] = await freePort()
  paths.hapForward = join(dir.dir, 'hap-agent.sock')
  paths.hapIntruder = join(dir.dir, 'hap-intruder.sock')
  ours = await startTunnels(ourTunnels())
  const echoAt = `127.0.0.1:${echo.port ?? 0}`
  peers.push(await startHaproxyReverse(at.hapReverse, echoAt))
  peers.push(await startHaproxyReverse(at.hapUnixReverse, unixEcho.path ?? ''))
  peers.push(await startHaproxyReverse(at.hapImpostor, echoAt, certs.impostor))
  peers.push(await startHaproxyForward(paths.hapForward, certs.agent))
  peers.push(await startHaproxyForward(paths.hapIntruder, certs.agentIntruder))
  peers.push(await startStunnelReverse('stunnel-reverse', at.stunnelReverse))
  peers.push(await startStunnelReverse('stunnel-impostor', at.stunnelImpostor, certs.impostor))
  peers.push(await startStunnelForward('stunnel-forward', at.stunnelForward, certs.client))
  peers.push(await startStunnelForward('stunnel-intruder', at.stunnelIntruder, certs.clientIntruder))
}, 120_000)

afterAll(async () => {
  for (const p of peers) await p.stop()
  await ours?.close()
  await echo?.close()
  await unixEcho?.close()
  await dir?.cleanup()
  await pki?.cleanup()
})

const carried = (tunnel: string): boolean =>
  ours.logs.some((l) => l.event === 'tunnel_connection' && l.tunnel === tunnel && l.result === undefined)
/** Refusals of `cn` by our reverse tunnel `tunnel` for its access rules (the peers' readiness probes cause some). */
const denied = (tunnel: string, cn: string): number => ours.withCode('MTLS_ERR_TLS_ACCESS_DENIED')
  .filter((l) => l.tunnel === tunnel && (l.device as { cn?: string } | undefined)?.cn === cn).length
/** Remote servers refused by our forward tunnel `tunnel` for the name on their certificate. */
const wrongName = (tunnel: string): number =>
  ours.withCode('MTLS_ERR_TLS_SERVER_NAME').filter((l) => l.tunnel === tunnel).length

describe('HAProxy', () => {
  it('our forward tunnel → HAProxy reverse proxy → echo: payload intact both ways, half-close carried', async () => {
    const before = echo.halfClosed
    const r = await roundTrip(ours.address('bluechi-agent'))
    expect(r.bytes).toBe(PAYLOAD)
    expect(r.received).toBe(r.sent)
    expect(echo.halfClosed).toBeGreaterThan(before)
    expect(await eventually(() => carried('bluechi-agent'))).toBe(true)
  }, 60_000)

  it('our forward tunnel carries connections resumed on HAProxy\'s session tickets', async () => {
    expect(await resumes(at.hapReverse, 'controller.example.com', certs.agent)).toBe(true)
    expect(await parallelRoundTrips(ours.address('bluechi-agent'))).toBe(true)
    expect(ours.withCode('MTLS_ERR_TLS_NO_CERT')).toEqual([])
  }, 60_000)

  it('HAProxy forward proxy → our reverse tunnel → echo: payload intact both ways, half-close carried', async () => {
    const before = echo.halfClosed
    const r = await roundTrip(`unix:${paths.hapForward}`)
    expect(r.bytes).toBe(PAYLOAD)
    expect(r.received).toBe(r.sent)
    expect(echo.halfClosed).toBeGreaterThan(before)
    expect(await eventually(() => carried('bluechi-controller'))).toBe(true)
  }, 60_000)

  it('HAProxy reverse proxy reaches a Unix-socket target (`server x /path.sock`) from our forward tunnel', async () => {
    const hap = fromTemplate('haproxy-reverse.cfg', [])
    expect(hap).toMatch(/server controller \/run\/bluechi\/bluechi\.sock/)
    const local = await startTunnels([{
      ...tunnelFromTemplate('tunnel-forward.yaml', 'bluechi-agent', [
        ['unix:/run/bluechi/agent.sock', `unix:${dir.dir}/agent-unix.sock`], ['unix_group: bluechi', `unix_group: "${gid}"`],
        ['controller.example.com:2021', `127.0.0.1:${at.hapUnixReverse}`],
        ['/etc/mtls/agent.crt', certs.agent.chainPath], ['/etc/mtls/agent.key', certs.agent.keyPath], ca()
      ])
    }])
    try {
      const r = await roundTrip(local.address('bluechi-agent'))
      expect(r.received).toBe(r.sent)
      expect(unixEcho.accepted).toBe(1)
      expect(unixEcho.halfClosed).toBe(1)
    } finally {
      await local.close()
    }
  }, 60_000)

  it('our reverse tunnel refuses an HAProxy client certificate outside its rules: coded log, nothing at the target', async () => {
    const [accepted, refused] = [echo.accepted, denied('bluechi-controller', 'agent-9')]
    expect(await refusedExchange(`unix:${paths.hapIntruder}`)).toBe(0)
    expect(await eventually(() => denied('bluechi-controller', 'agent-9') > refused, 10_000)).toBe(true)
    expect(echo.accepted).toBe(accepted)
  }, 30_000)

  it('our forward tunnel refuses an HAProxy server whose certificate has the wrong name', async () => {
    const [accepted, refused] = [echo.accepted, wrongName('wrong-name-haproxy')]
    expect(await refusedExchange(ours.address('wrong-name-haproxy'))).toBe(0)
    expect(await eventually(() => wrongName('wrong-name-haproxy') > refused, 10_000)).toBe(true)
    expect(echo.accepted).toBe(accepted)
  }, 30_000)
})

describe('stunnel', () => {
  it('our forward tunnel → stunnel server → echo: payload intact both ways, half-close carried', async () => {
    const before = echo.halfClosed
    const r = await roundTrip(ours.address('sidecar-client'))
    expect(r.bytes).toBe(PAYLOAD)
    expect(r.received).toBe(r.sent)
    expect(echo.halfClosed).toBeGreaterThan(before)
    expect(await eventually(() => carried('sidecar-client'))).toBe(true)
  }, 60_000)

  it('our forward tunnel carries connections resumed on stunnel\'s session tickets', async () => {
    expect(await resumes(at.stunnelReverse, 'server.example.com', certs.client)).toBe(true)
    expect(await parallelRoundTrips(ours.address('sidecar-client'))).toBe(true)
    expect(ours.withCode('MTLS_ERR_TLS_NO_CERT')).toEqual([])
  }, 60_000)

  it('stunnel client → our reverse tunnel → echo: payload intact both ways, half-close carried', async () => {
    const before = echo.halfClosed
    const r = await roundTrip(`127.0.0.1:${at.stunnelForward}`)
    expect(r.bytes).toBe(PAYLOAD)
    expect(r.received).toBe(r.sent)
    expect(echo.halfClosed).toBeGreaterThan(before)
    expect(await eventually(() => carried('sidecar-server'))).toBe(true)
  }, 60_000)

  it('our reverse tunnel refuses a stunnel client certificate outside its rules: coded log, nothing at the target', async () => {
    const [accepted, refused] = [echo.accepted, denied('sidecar-server', 'other-client')]
    expect(await refusedExchange(`127.0.0.1:${at.stunnelIntruder}`)).toBe(0)
    expect(await eventually(() => denied('sidecar-server', 'other-client') > refused, 10_000)).toBe(true)
    expect(echo.accepted).toBe(accepted)
  }, 30_000)

  it('our forward tunnel refuses a stunnel server whose certificate has the wrong name', async () => {
    const [accepted, refused] = [echo.accepted, wrongName('wrong-name-stunnel')]
    expect(await refusedExchange(ours.address('wrong-name-stunnel'))).toBe(0)
    expect(await eventually(() => wrongName('wrong-name-stunnel') > refused, 10_000)).toBe(true)
    expect(echo.accepted).toBe(accepted)
  }, 30_000)
})

/** A target that answers only after the client's half-close, `delayMs` later: the whole request, then EOF. */
async function lateAnswerTarget (delayMs: number): Promise<{ port: number, close: () => Promise<void> }> {
  const srv = await serve('tcp', undefined, (s) => {
    const chunks: Buffer[] = []
    s.on('error', () => {})
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('end', () => { setTimeout(() => { if (!s.destroyed) s.end(Buffer.concat(chunks)) }, delayMs) })
  })
  return { port: srv.endpoint.port ?? 0, close: srv.close }
}

/** Writes `text`, half-closes, and resolves with what came back before the connection closed. */
async function askThenHalfClose (address: string, text: string): Promise<string> {
  const s = connectTo(address)
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString() })
  s.on('error', () => {})
  s.on('end', () => s.end())
  s.once('connect', () => s.end(text))
  await new Promise((resolve) => s.once('close', resolve))
  return got
}

describe('socat', () => {
  it('drops the late answer of a half-closed connection (its default -t 0.5), which our tunnel pair carries', async () => {
    expect(spawnSync('sh', ['-c', 'command -v socat'], { stdio: 'ignore' }).status, 'socat is installed').toBe(0)
    const target = await lateAnswerTarget(3000)
    const port = await freePort()
    const socat = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${target.port}`])
    const reverse = await startTunnels([reverseTunnel(pki, `127.0.0.1:${target.port}`)])
    const forward = await startTunnels([forwardTunnel(pki, pki.devices.ec, '127.0.0.1:0', reverse.address('reverse'))])
    try {
      for (let i = 0; i < 100 && spawnSync('sh', ['-c', `ss -ltn | grep -q ':${port} '`]).status !== 0; i++) await sleep(50)
      expect(await askThenHalfClose(`127.0.0.1:${port}`, 'late answer')).toBe('')
      expect(await askThenHalfClose(forward.address('forward'), 'late answer')).toBe('late answer')
    } finally {
      socat.kill('SIGTERM')
      await forward.close()
      await reverse.close()
      await target.close()
    }
  }, 60_000)
})
