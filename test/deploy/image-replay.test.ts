// The image, replayed without a container engine: the Dockerfile's build stage runs on a fresh copy of the build
// context (npm ci, build, prune), its runtime stage is assembled, and the entrypoint starts as the image's USER in a
// private mount namespace with a read-only root, the demo certificates at the DEFAULT /etc/mtls/certs paths and an
// in-process Mender simulator as backend. Needs root (as the e2e tests do).
import { access, chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIELDS } from '../../src/config/schema.js'
import { writeDemoPki, type DemoPkiLayout } from '../../src/tools/pki/index.js'
import { DEFAULT_USER, startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { parseDockerfile } from './support/dockerfile.js'
import { replayDockerfile, type ImageFs } from './support/image-replay.js'
import { buildContextFiles, readRepoFile, REPO } from './support/repo-files.js'
import { numericUser, runAs, startSandboxed, type Sandboxed } from './support/sandbox.js'

let dir: string
let image: ImageFs
let pki: DemoPkiLayout
let sim: Simulator
let server: Sandboxed
let urls: { mtls: string, status: string }
const timings: Record<string, number> = {}

/** What the container gets mounted at /etc/mtls/certs: the server pair and the tenant CA bundle, the key owned by
 * the image's user with mode 0400 (as compose's certs service and the Kubernetes secret mounts provide them). */
async function mountedCerts (target: string, owner: string): Promise<void> {
  const [uid, gid] = owner.split(':').map(Number) as [number, number]
  await mkdir(join(target, 'server'), { recursive: true, mode: 0o755 })
  await mkdir(join(target, 'tenant-ca'), { recursive: true, mode: 0o755 })
  const files: Array<[string, string, number]> = [
    [pki.server.cert, 'server/server.crt', 0o444], [pki.server.key, 'server/server.key', 0o400],
    [pki.tenantCa.cert, 'tenant-ca/tenant.ca.pem', 0o444]
  ]
  for (const [from, to, mode] of files) {
    await copyFile(from, join(target, to))
    await chmod(join(target, to), mode)
    if (mode === 0o400) await chown(join(target, to), uid, gid)
  }
}

async function timed<T> (name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now()
  try { return await fn() } finally { timings[name] = Date.now() - start }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-image-'))
  await chmod(dir, 0o755)
  image = await timed('build', async () => await replayDockerfile(parseDockerfile(readRepoFile('Dockerfile')),
    { dir: REPO, files: buildContextFiles() }, join(dir, 'image')))
  pki = await writeDemoPki(join(dir, 'pki'))
  await mountedCerts(join(dir, 'etc-mtls-certs'), numericUser(image.user))
  sim = await startSimulator({ host: '127.0.0.1', port: 0 })
  await mkdir(join(dir, 'scratch'))
  server = startSandboxed(image, {
    certsDir: join(dir, 'etc-mtls-certs'),
    scratch: join(dir, 'scratch'),
    env: {
      MTLS_MENDER_BACKEND: sim.url,
      MTLS_MENDER_USER: DEFAULT_USER.email,
      MTLS_MENDER_PASS: DEFAULT_USER.password,
      MTLS_LISTEN: '127.0.0.1:0',
      MTLS_STATUS_LISTEN: '127.0.0.1:0'
    }
  })
  const listening = await timed('start', async () => await server.waitFor((l) => l.event === 'listening'))
  urls = { mtls: String(listening.url), status: String(listening.statusUrl) }
}, 300_000)

afterAll(async () => {
  if (server !== undefined && server.child.exitCode === null) {
    server.child.kill('SIGKILL')
    await server.exited
  }
  await sim?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  console.log(`image replay timings (ms): ${JSON.stringify(timings)}`)
})

async function procStatus (pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  return Object.fromEntries(text.split('\n').filter((l) => l.includes(':')).map((l) => {
    const i = l.indexOf(':')
    return [l.slice(0, i), l.slice(i + 1).trim()]
  }))
}

describe('the image, replayed without a container engine', () => {
  it('holds only dist/, the production node_modules and package.json', async () => {
    const lock = JSON.parse(readRepoFile('package-lock.json')) as { packages: Record<string, { dev?: boolean }> }
    const present = async (path: string): Promise<boolean> =>
      await access(join(image.workdir, path)).then(() => true, () => false)
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'))
    const wrong = []
    for (const [path, info] of entries) if (await present(path) === (info.dev === true)) wrong.push(path)
    expect({ top: (await readdir(image.workdir)).sort(), wrong }).toEqual({ top: ['dist', 'node_modules', 'package.json'], wrong: [] })
  })

  it('runs the server as UID and GID 65534 with no capabilities and no privilege escalation', async () => {
    const s = await procStatus(server.pid)
    expect({ uid: s.Uid, gid: s.Gid, groups: s.Groups, capEff: s.CapEff, capBnd: s.CapBnd, nnp: s.NoNewPrivs })
      .toEqual({ uid: '65534\t65534\t65534\t65534', gid: '65534\t65534\t65534\t65534', groups: '', capEff: '0000000000000000', capBnd: '0000000000000000', nnp: '1' })
  })

  it('runs with the root filesystem and the app folder read-only', async () => {
    const mounts = (await readFile(`/proc/${server.pid}/mountinfo`, 'utf8')).split('\n').map((l) => l.split(' '))
    const options = (point: string): string | undefined => mounts.filter((f) => f[4] === point).at(-1)?.[5]
    expect([options('/'), options(image.workdir), options('/etc/mtls/certs')].map((o) => o?.split(',')[0])).toEqual(['ro', 'ro', 'ro'])
  })

  it('loads its TLS material from the default paths under /etc/mtls/certs', async () => {
    const logged = await server.waitFor((l) => l.event === 'config')
    const config = logged.config as Record<string, unknown>
    const defaults = (k: 'server_cert' | 'server_key' | 'tenant_ca_pem'): unknown => (FIELDS[k].schema as { default: unknown }).default
    expect([config.server_cert, config.server_key, config.tenant_ca_pem])
      .toEqual([defaults('server_cert'), defaults('server_key'), defaults('tenant_ca_pem')])
  })

  it('answers /status over mTLS to a device certificate', async () => {
    const dev = pki.devices['device-ec']
    const agent = new Agent({
      connect: { ca: await readFile(pki.server.ca, 'utf8'), cert: await readFile(dev.cert, 'utf8'), key: await readFile(dev.key, 'utf8'), servername: 'localhost' }
    })
    try {
      // as a device does: the name on the server certificate for SNI and Host alike
      const res = await request(`${urls.mtls}/status`, { dispatcher: agent, headers: { host: `localhost:${new URL(urls.mtls).port}` } })
      expect({ status: res.statusCode, body: await res.body.json() }).toEqual({ status: 200, body: { status: 'ok' } })
    } finally {
      await agent.close()
    }
  })

  it('reports ready on /readyz of the status port', async () => {
    const res = await request(`${urls.status}/readyz`)
    expect({ status: res.statusCode, body: (await res.body.json() as { status: string }).status }).toEqual({ status: 200, body: 'ready' })
  })

  it("passes the image's HEALTHCHECK command, run as the image's user", async () => {
    const command = image.healthcheck?.command ?? []
    expect(await runAs(image.user, command, { ...image.env, MTLS_STATUS_LISTEN: new URL(urls.status).host })).toBe(0)
  })

  it("fails the image's HEALTHCHECK command when nothing listens on the status port", async () => {
    const command = image.healthcheck?.command ?? []
    expect(await runAs(image.user, command, { ...image.env, MTLS_STATUS_LISTEN: '127.0.0.1:1' })).toBe(1)
  })

  it('drains and exits 0 on SIGTERM', async () => {
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
