// The gateway as a real process: startup errors list every problem, the status listener answers without a client
// certificate, readiness does not wait for the management login, and SIGTERM drains in-flight requests then exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { issueServerCert } from '../../src/tools/pki/index.js'
import type { TestPki } from '../support/pki.js'
import { TEST_USER, openBackend, type Backend } from '../support/gateway.js'
import { runCli } from '../support/process.js'
import { deviceAgent, eventually, send } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

let pki: TestPki
let sim: Simulator
let backend: Backend

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
})

afterAll(async () => {
  await backend?.close()
})

function env (extra: Record<string, string> = {}): Record<string, string> {
  return {
    MTLS_LISTEN: '127.0.0.1:0',
    MTLS_STATUS_LISTEN: '127.0.0.1:0',
    MTLS_MENDER_BACKEND: sim.url,
    MTLS_MENDER_USER: TEST_USER.email,
    MTLS_MENDER_PASS: TEST_USER.password,
    MTLS_SERVER_CERT: pki.server.chainPath,
    MTLS_SERVER_KEY: pki.server.keyPath,
    MTLS_TENANT_CA_PEM: pki.trust.path,
    ...extra
  }
}

async function getJson (url: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await request(url)
  return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
}

describe('gateway process', () => {
  it('exits 1 listing every configuration problem at once', async () => {
    const p = runCli(['serve'], { MTLS_LISTEN: 'nonsense', MTLS_BODY_LIMIT: 'big', MTLS_KEY_MATCH: 'maybe' })
    expect(await p.exited).toBe(1)
    const fatal = p.lines.find((l) => l.level === 'fatal')
    expect(fatal?.code).toBe('MTLS_ERR_CONFIG_INVALID')
    const text = JSON.stringify(fatal)
    for (const word of ['body_limit', 'key_match', 'MTLS_MENDER_BACKEND', 'credentials']) expect(text).toContain(word)
  })

  it('exits 1 with MTLS_ERR_TLS_MATERIAL when the server certificate is missing', async () => {
    const p = runCli(['serve'], env({ MTLS_SERVER_CERT: '/nonexistent/server.crt' }))
    expect(await p.exited).toBe(1)
    expect(p.lines.find((l) => l.level === 'fatal')?.code).toBe('MTLS_ERR_TLS_MATERIAL')
  })

  it('logs the effective configuration with secrets masked', async () => {
    const p = runCli(['serve'], env({ MTLS_MENDER_PASS: 'very-secret-password' }))
    try {
      const line = await p.waitFor((l) => l.event === 'config')
      expect((line.config as Record<string, unknown>).mender_pass).toMatch(/^(\*\*\*|\[redacted\])$/)
      await p.waitFor((l) => l.event === 'listening')
      expect(p.stdout()).not.toContain('very-secret-password')
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
    }
  })

  it('check-config validates without starting and masks secrets', async () => {
    const p = runCli(['check-config'], env())
    expect(await p.exited).toBe(0)
    expect(p.stdout()).toContain('configuration ok')
    expect(p.stdout()).not.toContain(TEST_USER.password)
  })

  it('check-config exits 1 on a broken configuration', async () => {
    const p = runCli(['check-config'], env({ MTLS_TENANT_CA_PEM: '/nonexistent/ca.pem' }))
    expect(await p.exited).toBe(1)
    expect(p.stderr()).toContain('MTLS_ERR_TLS_MATERIAL')
  })

  it('serves /status, /healthz and /readyz on the plain status listener', async () => {
    const p = runCli(['serve'], env())
    try {
      const { statusUrl } = await p.waitFor((l) => l.event === 'listening') as { statusUrl: string }
      expect(await getJson(statusUrl + '/status')).toEqual({ status: 200, body: { status: 'ok' } })
      expect(await getJson(statusUrl + '/healthz')).toEqual({ status: 200, body: { status: 'ok' } })
      const ready = await getJson(statusUrl + '/readyz')
      expect(ready.status).toBe(200)
      expect(ready.body.status).toBe('ready')
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
    }
  })

  it('stays ready (200) while the management login fails, reporting management as not ok', async () => {
    const p = runCli(['serve'], env({ MTLS_MENDER_PASS: 'wrong' }))
    try {
      const { statusUrl } = await p.waitFor((l) => l.event === 'listening') as { statusUrl: string }
      await p.waitFor((l) => l.code === 'MTLS_WARN_MGMT_DOWN')
      const ready = await getJson(statusUrl + '/readyz')
      expect(ready.status).toBe(200)
      expect((ready.body.checks as Record<string, { ok: boolean, detail?: string }>).management)
        .toMatchObject({ ok: false, detail: expect.stringContaining('MTLS_ERR_MGMT_LOGIN_FAILED') })
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
    }
  })

  it('reloads its certificates on SIGHUP', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtls-sighup-'))
    await writeFile(join(dir, 'server.crt'), pki.server.chainPem)
    await writeFile(join(dir, 'server.key'), pki.server.keyPem)
    const p = runCli(['serve'], env({ MTLS_SERVER_CERT: join(dir, 'server.crt'), MTLS_SERVER_KEY: join(dir, 'server.key'), MTLS_RELOAD_WATCH: 'false' }))
    try {
      await p.waitFor((l) => l.event === 'listening')
      const next = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] })
      await writeFile(join(dir, 'server.crt'), next.chainPem)
      await writeFile(join(dir, 'server.key'), next.keyPem)
      p.child.kill('SIGHUP')
      const line = await p.waitFor((l) => l.event === 'reload')
      expect(line).toMatchObject({ trigger: 'SIGHUP', changed: true })
    } finally {
      p.child.kill('SIGTERM')
      await p.exited
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('drains an in-flight request on SIGTERM and exits 0', async () => {
    const p = runCli(['serve'], env())
    const agent = deviceAgent(pki, pki.devices.ec)
    try {
      const { url } = await p.waitFor((l) => l.event === 'listening') as { url: string }
      sim.faults.latency('device', 800)
      const next = '/api/devices/v1/deployments/device/deployments/next'
      const inflight = send(agent, url.replace('127.0.0.1', 'localhost') + next)
      // in flight for sure: Mender has it (a fixed pause raced the first handshake on a loaded host)
      expect(await eventually(() => sim.requests.some((r) => r.url === next), 10_000)).toBe(true)
      p.child.kill('SIGTERM')
      const res = await inflight
      expect(res.status).toBe(401)
      expect(await p.exited).toBe(0)
    } finally {
      sim.faults.clear()
      await agent.close()
      if (p.child.exitCode === null) p.child.kill('SIGKILL')
    }
  })
})
