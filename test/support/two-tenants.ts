// A gateway serving two tenants against the multi-tenant simulator: `default` (the test root, tenant token
// tok-default) and `acme` (the foreign CA, server name acme.test, its own Mender user and token tok-acme), with a
// server certificate naming both. `close` ends all of it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConfigKey } from '../../src/config/schema.js'
import { issueServerCert } from '../../src/tools/pki/index.js'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { startGateway, TEST_USER, type GatewayHandle } from './gateway.js'
import { makeTestPki, type TestPki } from './pki.js'

export const ACME = { email: 'acme@example.com', password: 'acme-password', tenant: 't-acme' }

export interface TwoTenants { pki: TestPki, sim: Simulator, gw: GatewayHandle, close: () => Promise<void> }

export async function openTwoTenants (overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<TwoTenants> {
  const pki = await makeTestPki()
  const dir = await mkdtemp(join(tmpdir(), 'mtls-tenants-'))
  const server = await issueServerCert(pki.root, { cn: 'localhost', dns: ['localhost', 'acme.test'], ips: ['127.0.0.1'] })
  await writeFile(join(dir, 'server.crt'), server.chainPem)
  await writeFile(join(dir, 'server.key'), server.keyPem)
  const sim = await startSimulator({
    multiTenant: true,
    users: [{ ...TEST_USER, tenant: 't-default' }, ACME],
    tenantTokens: { 'tok-default': 't-default', 'tok-acme': 't-acme' }
  })
  const gw = await startGateway({
    pki,
    backendUrl: sim.url,
    overrides: {
      server_cert: join(dir, 'server.crt'),
      server_key: join(dir, 'server.key'),
      tenant_token: 'tok-default',
      tenants: [{ name: 'acme', ca_pem: pki.foreign.certPath, mender_user: ACME.email, mender_pass: ACME.password, sni: ['acme.test'], tenant_token: 'tok-acme' }],
      ...overrides
    }
  })
  const close = async (): Promise<void> => {
    await gw.close()
    await sim.close()
    await pki.cleanup()
    await rm(dir, { recursive: true, force: true })
  }
  return { pki, sim, gw, close }
}
