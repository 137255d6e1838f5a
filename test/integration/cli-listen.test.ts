// The `mtls-ambassador` processes that listen: serve, demo and sim exit 1 with one clear line (MTLS_ERR_LISTEN) when
// a port is taken, and nothing keeps them running; the demo binds 127.0.0.1 only unless told otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { TEST_USER, openBackend, type Backend } from '../support/gateway.js'
import { runCli, type CliProcess } from '../support/process.js'

let backend: Backend
let certs: string
let taken: Server
let takenPort: number

async function listenOn (port = 0): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return server
}
const portOf = (s: Server): number => (s.address() as { port: number }).port

/** A port free right now (bound and released). */
async function freePort (): Promise<number> {
  const s = await listenOn()
  const port = portOf(s)
  await new Promise((resolve) => s.close(resolve))
  return port
}

beforeAll(async () => {
  backend = await openBackend()
  certs = await mkdtemp(join(tmpdir(), 'mtls-demo-cli-'))
  taken = await listenOn()
  takenPort = portOf(taken)
})

afterAll(async () => {
  await new Promise((resolve) => taken?.close(resolve))
  await backend?.close()
  await rm(certs, { recursive: true, force: true })
})

/** Exit code of the process, or 'hung' when it is still running after `ms` (then killed). */
async function exitWithin (p: CliProcess, ms: number): Promise<number | null | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), ms) })
  const result = await Promise.race([p.exited, hung])
  clearTimeout(timer)
  if (result === 'hung') {
    p.child.kill('SIGKILL')
    await p.exited
  }
  return result
}

const inUse = (port: number): RegExp => new RegExp(`^mtls-ambassador: cannot listen on 127\\.0\\.0\\.1:${port}: ` +
  'address already in use \\(MTLS_ERR_LISTEN\\)\\n$')

function serveEnv (listen: string, status: string): Record<string, string> {
  return {
    MTLS_LISTEN: listen,
    MTLS_STATUS_LISTEN: status,
    MTLS_MENDER_BACKEND: backend.sim.url,
    MTLS_MENDER_USER: TEST_USER.email,
    MTLS_MENDER_PASS: TEST_USER.password,
    MTLS_SERVER_CERT: backend.pki.server.chainPath,
    MTLS_SERVER_KEY: backend.pki.server.keyPath,
    MTLS_TENANT_CA_PEM: backend.pki.trust.path
  }
}

/** Local addresses (IPv4 and IPv6, hex as in /proc/net/tcp*) of the listening sockets on `port`. */
async function listeningAddresses (port: number): Promise<string[]> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const out: string[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1)
    for (const row of rows) {
      const [, local, , state] = row.trim().split(/\s+/)
      if (state === '0A' && local?.endsWith(`:${hexPort}`) === true) out.push(local.split(':')[0] ?? '')
    }
  }
  return out
}

describe('a port already in use', () => {
  it('serve logs MTLS_ERR_LISTEN with the address and exits 1', async () => {
    const p = runCli(['serve'], serveEnv(`127.0.0.1:${takenPort}`, '127.0.0.1:0'))
    expect(await exitWithin(p, 20_000)).toBe(1)
    const fatal = p.lines.find((l) => l.level === 'fatal')
    expect(fatal?.code).toBe('MTLS_ERR_LISTEN')
    expect(fatal?.msg).toBe(`startup failed: cannot listen on 127.0.0.1:${takenPort}: address already in use`)
  })

  it('serve exits 1 when only the status port is taken', async () => {
    const p = runCli(['serve'], serveEnv('127.0.0.1:0', `127.0.0.1:${takenPort}`))
    expect(await exitWithin(p, 20_000)).toBe(1)
    expect(p.lines.find((l) => l.level === 'fatal')?.code).toBe('MTLS_ERR_LISTEN')
  })

  it('sim exits 1 with one line', async () => {
    const p = runCli(['sim', '--port', String(takenPort)], {})
    expect(await exitWithin(p, 20_000)).toBe(1)
    expect(p.stderr()).toMatch(inUse(takenPort))
  })

  it.each([['--port'], ['--status-port'], ['--sim-port']])('demo exits 1 with one line, not hanging, when %s is taken',
    async (flag) => {
      const ports: Record<string, string> = { '--port': '0', '--status-port': '0', '--sim-port': '0' }
      ports[flag] = String(takenPort)
      const p = runCli(['demo', '--certs', certs, ...Object.entries(ports).flat()], {})
      expect(await exitWithin(p, 25_000)).toBe(1)
      expect(p.stderr()).toMatch(inUse(takenPort))
    })
})

describe('demo', () => {
  it('listens on 127.0.0.1 only by default, serves, and stops on SIGTERM', async () => {
    const [port, statusPort] = [await freePort(), await freePort()]
    const p = runCli(['demo', '--certs', certs, '--port', String(port), '--status-port', String(statusPort)], {})
    try {
      await p.waitFor((l) => l.event === 'listening', 25_000)
      expect(await listeningAddresses(port)).toEqual(['0100007F'])
      expect(await listeningAddresses(statusPort)).toEqual(['0100007F'])
      expect((await request(`http://127.0.0.1:${statusPort}/healthz`)).statusCode).toBe(200)
      p.child.kill('SIGTERM')
      expect(await exitWithin(p, 15_000)).toBe(0)
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL')
    }
  })
})
