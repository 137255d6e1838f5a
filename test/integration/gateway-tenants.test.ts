// Multi-tenancy over real sockets against a multi-tenant simulator: a named tenant's server name selects a context
// that advertises only its CA; the tenant comes from the verified chain and must match the server name (also on
// resumed sessions); each tenant preauthorizes with its own credentials into its own Mender tenant; tenant tokens are
// checked; a Host that differs from the server name gets 421.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { connect } from 'node:tls'
import type { TestCert, TestPki } from '../support/pki.js'
import type { GatewayHandle } from '../support/gateway.js'
import { AUTH_URL_PATH, authRequest, eventually } from '../support/device.js'
import { openTwoTenants, type TwoTenants } from '../support/two-tenants.js'
import type { Simulator } from '../../src/tools/simulator/index.js'

const run = promisify(execFile)
let pki: TestPki
let sim: Simulator
let gw: GatewayHandle
let setup: TwoTenants

beforeAll(async () => {
  setup = await openTwoTenants()
  ;({ pki, sim, gw } = setup)
})

afterAll(async () => { await setup?.close() })

beforeEach(() => { sim.reset() })

interface Exchange { status?: number, body: string, session?: Buffer, resumed: boolean }

/** One raw HTTP/1.1 exchange over mTLS with a chosen server name, Host and optional session to resume. */
async function exchange (dev: TestCert, servername: string, request: string, session?: Buffer): Promise<Exchange> {
  return await new Promise((resolve) => {
    let data = ''
    let ticket: Buffer | undefined
    let resumed = false
    const s = connect({ port: gw.port, host: '127.0.0.1', servername, ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem, session })
    s.on('session', (t: Buffer) => { ticket = t })
    s.on('secureConnect', () => { resumed = s.isSessionReused(); s.write(request) })
    s.on('data', (d: Buffer) => { data += d.toString() })
    s.on('error', () => {})
    s.on('close', () => {
      const status = /^HTTP\/1\.1 (\d+)/.exec(data)?.[1]
      resolve({ status: status === undefined ? undefined : Number(status), body: data.slice(data.indexOf('\r\n\r\n') + 4), session: ticket, resumed })
    })
  })
}

const get = (host: string, path = '/status'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
function postAuth (host: string, keyPem: string, identity: Record<string, unknown>, tenantToken: string): string {
  const req = authRequest(keyPem, identity, { tenant_token: tenantToken })
  const head = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return `POST ${AUTH_URL_PATH} HTTP/1.1\r\nHost: ${host}\r\n${head}Content-Length: ${req.body.length}\r\nConnection: close\r\n\r\n${req.body.toString()}`
}

describe('tenants', () => {
  it('preauthorizes a named tenant\'s device with that tenant\'s credentials, into its Mender tenant', async () => {
    const res = await exchange(pki.devices.foreign, 'acme.test', postAuth('acme.test', pki.devices.foreign.keyPem, { mac: 'acme-1' }, 'tok-acme'))
    expect(res.status).toBe(200)
    const device = sim.state.deviceByIdentity({ mac: 'acme-1' }, 't-acme')
    expect(device?.status).toBe('accepted')
    expect(sim.state.deviceByIdentity({ mac: 'acme-1' }, 't-default')).toBeUndefined()
  })

  it('preauthorizes a default-tenant device into the default Mender tenant', async () => {
    const res = await exchange(pki.devices.ec, 'localhost', postAuth('localhost', pki.devices.ec.keyPem, { mac: 'def-1' }, 'tok-default'))
    expect(res.status).toBe(200)
    expect(sim.state.deviceByIdentity({ mac: 'def-1' }, 't-default')?.status).toBe('accepted')
  })

  it('advertises only the named tenant\'s CA in its context', async () => {
    // openssl runs asynchronously: the gateway shares this process's event loop
    const acceptable = async (servername: string): Promise<string> => {
      const out = await run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.port}`, '-servername', servername, '-tls1_2'], { timeout: 10_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
      return /Acceptable client certificate CA names\n((?:.+\n)*?)(?:Requested|Client Certificate Types|---)/.exec(out.stdout)?.[1] ?? ''
    }
    const acme = await acceptable('acme.test')
    expect(acme).toContain('foreign test CA')
    expect(acme).not.toContain('mtls-ambassador test root CA')
    const fallback = await acceptable('localhost')
    expect(fallback).toContain('mtls-ambassador test root CA')
    expect(fallback).not.toContain('foreign test CA')
  })

  it('refuses a default-tenant certificate under the named tenant\'s server name', async () => {
    expect((await exchange(pki.devices.ec, 'acme.test', get('acme.test'))).status).toBeUndefined()
  })

  it('refuses a named tenant\'s certificate without its server name', async () => {
    expect((await exchange(pki.devices.foreign, 'localhost', get('localhost'))).status).toBeUndefined()
  })

  it('refuses a session resumed across tenants, forwarding nothing', async () => {
    const first = await exchange(pki.devices.foreign, 'acme.test', get('acme.test'))
    expect(first.status).toBe(200)
    const across = await exchange(pki.devices.foreign, 'localhost', get('localhost', '/api/devices/v1/deployments/device/deployments/next'), first.session)
    expect(across.status).toBeUndefined()
    expect(await eventually(() => gw.logs.some((l) => l.code === 'MTLS_ERR_TLS_TENANT_MISMATCH' || (l.code === 'MTLS_ERR_TLS_UNKNOWN_CA' && (l.device as { tenant?: string } | undefined)?.tenant !== 'default')))).toBe(true)
    expect(sim.requests.length).toBe(0)
  })

  it('refuses an auth request with another tenant\'s token (401 MTLS_ERR_AUTH_TENANT_TOKEN), nothing preauthorized', async () => {
    const res = await exchange(pki.devices.foreign, 'acme.test', postAuth('acme.test', pki.devices.foreign.keyPem, { mac: 'acme-2' }, 'tok-default'))
    expect(res.status).toBe(401)
    expect(gw.withCode('MTLS_ERR_AUTH_TENANT_TOKEN').length).toBeGreaterThan(0)
    expect(sim.counts.preauth).toBe(0)
    expect(sim.requests.filter((r) => r.url === AUTH_URL_PATH).length).toBe(0)
  })

  it('answers 421 MTLS_ERR_MISDIRECTED when Host differs from the server name', async () => {
    const res = await exchange(pki.devices.foreign, 'acme.test', get('localhost'))
    expect(res.status).toBe(421)
    expect(JSON.parse(res.body)).toHaveProperty('request_id')
  })
})
