// The real Mender client (3.x) bootstrapping through the gateway: every key type (RSA, EC P-256 and P-384, Ed25519)
// is admitted on its first auth request, a key mismatch and missing/foreign certificates are refused, a once-pending
// device is admitted by force.
import { createPrivateKey } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestCert } from '../support/pki.js'
import { bootstrap, type RunResult } from '../support/real-client.js'
import { authRequestsFor, deviceFor, eventually, preauthsFor, startStack, type Stack } from './support/stack.js'

const KINDS = ['rsa', 'ec', 'ed25519', 'p384'] as const
const MAC = {
  rsa: '02:00:00:00:01:01',
  ec: '02:00:00:00:01:02',
  ed25519: '02:00:00:00:01:03',
  p384: '02:00:00:00:01:08',
  mismatch: '02:00:00:00:01:04',
  noCert: '02:00:00:00:01:05',
  foreign: '02:00:00:00:01:06',
  pending: '02:00:00:00:01:07'
}

describe('real Mender client through the gateway', () => {
  let stack: Stack
  const results: Record<string, RunResult> = {}
  let certOf: Record<(typeof KINDS)[number], TestCert>

  const run = async (key: string, dev: Parameters<typeof bootstrap>[0]): Promise<void> => {
    results[key] = await bootstrap(dev, { timeoutMs: 20_000 })
  }

  beforeAll(async () => {
    stack = await startStack()
    const { pki } = stack
    const [pendingCert, mismatchCert, p384] = await Promise.all([
      pki.device('once-pending', 'ec'), pki.device('mismatch', 'ec'), pki.device('p384', 'ec-p384')
    ])
    certOf = { ...pki.devices, p384 }
    // the once-pending device first knocks directly at Mender, which records it as pending
    const direct = deviceFor(stack, 'pending-direct', MAC.pending, pendingCert, { serverUrl: stack.sim.url })
    results.pendingDirect = await bootstrap(direct, { timeoutMs: 20_000 })
    await Promise.all([
      ...KINDS.map(async (k) => await run(k, deviceFor(stack, k, MAC[k], certOf[k]))),
      run('mismatch', deviceFor(stack, 'mismatch', MAC.mismatch, mismatchCert, { authKeyPem: pki.devices.rsa.keyPem })),
      run('noCert', deviceFor(stack, 'no-cert', MAC.noCert, undefined, { authKeyPem: pki.devices.ec.keyPem })),
      run('foreign', deviceFor(stack, 'foreign', MAC.foreign, pki.devices.foreign)),
      run('pending', deviceFor(stack, 'pending', MAC.pending, pendingCert))
    ])
  })

  afterAll(async () => { await stack?.close() })

  const statusOf = (mac: string): string | undefined => stack.sim.state.deviceByIdentity({ mac })?.status
  const cnsOf = (code: string): unknown[] =>
    stack.gw.withCode(code).map((r) => (r.device as { cn?: string } | undefined)?.cn)
  const result = (key: string): RunResult => results[key] ?? { code: null, stdout: '', stderr: 'not run' }

  describe.each(KINDS)('%s device', (kind) => {
    it('bootstraps (exit 0) with a single auth request', () => {
      expect(result(kind).code, result(kind).stderr).toBe(0)
      expect(authRequestsFor(stack.sim, MAC[kind])).toHaveLength(1)
    })

    it('is preauthorized exactly once', () => {
      expect(preauthsFor(stack.sim, MAC[kind])).toHaveLength(1)
    })

    it('ends accepted in Mender', () => {
      expect(statusOf(MAC[kind])).toBe('accepted')
    })
  })

  it('runs the p384 device with an EC P-384 key', () => {
    expect(createPrivateKey(certOf.p384.keyPem).asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
  })

  describe('AuthPrivateKey different from the TLS key', () => {
    it('is refused (bootstrap exits 1)', () => {
      expect(result('mismatch').code, result('mismatch').stderr).toBe(1)
    })

    it('logs the key-mismatch reason code for that certificate', () => {
      expect(cnsOf('MTLS_ERR_AUTH_KEY_MISMATCH')).toContain('mismatch')
    })

    it('preauthorizes nothing', () => {
      expect(preauthsFor(stack.sim, MAC.mismatch)).toEqual([])
    })

    it('forwards nothing to the Mender auth route', () => {
      expect(authRequestsFor(stack.sim, MAC.mismatch)).toEqual([])
      expect(statusOf(MAC.mismatch)).toBeUndefined()
    })
  })

  describe('no HttpsClient (no client certificate)', () => {
    it('is refused at the handshake (bootstrap exits 1)', () => {
      expect(result('noCert').code, result('noCert').stderr).toBe(1)
    })

    it('logs the no-certificate reason code', async () => {
      await eventually(() => stack.gw.withCode('MTLS_ERR_TLS_NO_CERT')[0])
    })

    it('reaches nothing behind the gateway', () => {
      expect(authRequestsFor(stack.sim, MAC.noCert)).toEqual([])
    })
  })

  describe('certificate from a foreign CA', () => {
    it('is refused (bootstrap exits 1)', () => {
      expect(result('foreign').code, result('foreign').stderr).toBe(1)
    })

    it('logs the unknown-CA reason code for that certificate', async () => {
      await eventually(() => cnsOf('MTLS_ERR_TLS_UNKNOWN_CA').includes('foreign') ? true : undefined)
    })

    it('reaches nothing behind the gateway', () => {
      expect(authRequestsFor(stack.sim, MAC.foreign)).toEqual([])
    })
  })

  describe('device already known to Mender as pending', () => {
    it('was refused when it went to Mender directly', () => {
      expect(result('pendingDirect').code).toBe(1)
    })

    it('bootstraps through the gateway (exit 0)', () => {
      expect(result('pending').code, result('pending').stderr).toBe(0)
    })

    it('needed the conflict and the forced preauthorization', () => {
      const bodies = preauthsFor(stack.sim, MAC.pending).map((r) => JSON.parse(r.bodyBytes.toString('utf8')) as { force?: boolean })
      expect(bodies.map((b) => b.force === true)).toEqual([false, true])
    })

    it('ends accepted in Mender', () => {
      expect(statusOf(MAC.pending)).toBe('accepted')
    })
  })
})
