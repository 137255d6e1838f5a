import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseSimulatorArgs } from '../../src/tools/simulator/cli.js'

describe('simulator command line', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('defaults to 127.0.0.1 on any free port', async () => {
    expect(await parseSimulatorArgs([])).toMatchObject({ host: '127.0.0.1', port: 0 })
  })

  it('parses host and port', async () => {
    expect(await parseSimulatorArgs(['--host', '0.0.0.0', '--port', '8080'])).toMatchObject({ host: '0.0.0.0', port: 8080 })
  })

  it('parses repeated users, keeping colons in passwords', async () => {
    const opts = await parseSimulatorArgs(['--user', 'a@x.io:p:w', '--user', 'b@x.io:q'])
    expect(opts.users).toEqual([{ email: 'a@x.io', password: 'p:w' }, { email: 'b@x.io', password: 'q' }])
  })

  it('parses tenant users and tenant tokens into multi-tenant options', async () => {
    const opts = await parseSimulatorArgs(['--tenant-user', 't1:a@x.io:pw', '--tenant-token', 'tok=t1'])
    expect(opts).toMatchObject({
      multiTenant: true, users: [{ email: 'a@x.io', password: 'pw', tenant: 't1' }], tenantTokens: { tok: 't1' }
    })
  })

  it('reads the TLS certificate and key files', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-cli-'))
    await writeFile(join(dir, 'c.pem'), 'CERT')
    await writeFile(join(dir, 'k.pem'), 'KEY')
    const opts = await parseSimulatorArgs(['--tls-cert', join(dir, 'c.pem'), '--tls-key', join(dir, 'k.pem')])
    expect(opts.tls).toEqual({ cert: 'CERT', key: 'KEY' })
  })

  it('refuses a certificate without a key', async () => {
    await expect(parseSimulatorArgs(['--tls-cert', 'c.pem'])).rejects.toThrow(/go together/)
  })

  it('refuses a user without a password', async () => {
    await expect(parseSimulatorArgs(['--user', 'nobody'])).rejects.toThrow(/--user/)
  })

  it('refuses a non-numeric port', async () => {
    await expect(parseSimulatorArgs(['--port', 'http'])).rejects.toThrow(/--port/)
  })

  it('reads how many requests the log keeps', async () => {
    expect(await parseSimulatorArgs(['--request-log', '50'])).toMatchObject({ requestLog: 50 })
    await expect(parseSimulatorArgs(['--request-log', '-1'])).rejects.toThrow(/--request-log/)
  })

  it('refuses unknown flags', async () => {
    await expect(parseSimulatorArgs(['--verbose'])).rejects.toThrow()
  })
})
