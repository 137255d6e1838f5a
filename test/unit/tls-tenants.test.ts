// Tenant selection: which context a server name selects, which tenants a context admits, and which tenant a chain
// belongs to (directly, through an intermediate, and with look-alike CAs in two tenants).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { allowedTenants, contextPlan, directTenant, loadTenants, tenantViaIntermediates, type TenantTrust } from '../../src/tls/tenants.js'
import { loadConfig } from '../../src/config/load.js'
import { gatewayTrustSource } from '../../src/gateway/trust-source.js'

let pki: TestPki
let tenants: TenantTrust[]
const x = (pem: string): X509Certificate => new X509Certificate(pem)
const tenant = (name: string, caPem: string, sni: string[] = []): TenantTrust =>
  ({ name, caPem, caCerts: [x(caPem)], sni, graceSeconds: 0 })

beforeAll(async () => {
  pki = await makeTestPki()
  tenants = [tenant('default', pki.root.certPem), tenant('acme', pki.foreign.certPem, ['acme.test']), tenant('lookalike', pki.fakeRoot.certPem)]
})

afterAll(async () => { await pki?.cleanup() })

describe('context plan', () => {
  it('gives a named tenant its own context with only its CA', () => {
    expect(contextPlan(tenants).byName.get('acme.test')).toEqual({ ca: pki.foreign.certPem, tenant: 'acme' })
  })

  it('serves the tenants without names from the default context', () => {
    const plan = contextPlan(tenants)
    expect([...plan.fallback.tenants].sort()).toEqual(['default', 'lookalike'])
    expect(plan.fallback.ca).not.toContain(pki.foreign.certPem.trim())
  })

  it('falls back to the default tenant when every tenant has names', () => {
    const plan = contextPlan([tenant('default', pki.root.certPem, ['a.test']), tenant('acme', pki.foreign.certPem, ['b.test'])])
    expect([...plan.fallback.tenants]).toEqual(['default'])
  })

  it('admits only the named tenant under its server name, case-insensitively', () => {
    expect([...allowedTenants(contextPlan(tenants), 'ACME.test')]).toEqual(['acme'])
  })

  it('admits the unnamed tenants without a server name', () => {
    expect([...allowedTenants(contextPlan(tenants), undefined)].sort()).toEqual(['default', 'lookalike'])
  })
})

describe('tenant of a chain', () => {
  it('finds the tenant whose CA issued the leaf', () => {
    expect(directTenant(x(pki.devices.foreign.certPem), tenants, false)?.name).toBe('acme')
  })

  it('tells look-alike CAs (same subject) apart by signature', () => {
    expect(directTenant(x(pki.devices.ec.certPem), tenants, false)?.name).toBe('default')
    expect(directTenant(x(pki.devices.fakeRoot.certPem), tenants, false)?.name).toBe('lookalike')
  })

  it('checks the signature even after OpenSSL verified when look-alikes make the issuer ambiguous', () => {
    expect(directTenant(x(pki.devices.fakeRoot.certPem), tenants, true)?.name).toBe('lookalike')
  })

  it('finds no tenant for a leaf no tenant CA issued', () => {
    expect(directTenant(x(pki.devices.ec.certPem), [tenant('acme', pki.foreign.certPem)], false)).toBeUndefined()
  })

  it('finds the tenant through an intermediate the device sent', () => {
    const leaf = x(pki.devices.viaIntermediate.certPem)
    expect(tenantViaIntermediates(leaf, [x(pki.intermediate.certPem)], [tenant('default', pki.root.certPem)])?.name).toBe('default')
  })

  it('finds no tenant through an intermediate when the device did not send it', () => {
    expect(tenantViaIntermediates(x(pki.devices.viaIntermediate.certPem), [], [tenant('default', pki.root.certPem)])).toBeUndefined()
  })
})

describe('loading tenants', () => {
  it('reports every unreadable CA bundle at once', () => {
    const config = {
      sni: [],
      graceSeconds: 0,
      tenants: [
        { name: 'a', ca: '/nonexistent/a.pem', sni: [], graceSeconds: 0 },
        { name: 'b', ca: '/nonexistent/b.pem', sni: [], graceSeconds: 0 }
      ]
    }
    expect(() => loadTenants(config, pki.root.certPem, [x(pki.root.certPem)])).toThrow(/tenant a .*ENOENT.*tenant b .*ENOENT/)
  })

  it('applies a tenant\'s own grace window over the global one', () => {
    const gateway = loadConfig({
      env: {},
      overrides: {
        mender_backend: 'https://mender.example.com',
        mender_token: 't',
        expired_grace: 60,
        tenants: [
          { name: 'a', ca_pem: pki.foreign.certPath, mender_token: 't', expired_grace: 3600 },
          { name: 'b', ca_pem: pki.foreign.certPath, mender_token: 't' }
        ]
      }
    }).gateway
    if (gateway === undefined) throw new Error('no gateway section')
    const loaded = loadTenants(gatewayTrustSource(gateway), pki.root.certPem, [x(pki.root.certPem)])
    expect(loaded.map((t) => [t.name, t.graceSeconds])).toEqual([['default', 60], ['a', 3600], ['b', 60]])
  })
})
