// The bash device client (extra/mender-device.sh: curl + openssl) through the gateway: every key type (RSA, EC P-256
// and P-384, Ed25519) authenticates, reports inventory and polls for deployments with its JWT; a foreign certificate
// gets nowhere.
import { execFile } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestCert } from '../support/pki.js'
import { authRequestsFor, requestsWithDeviceJwt, startStack, type Stack } from './support/stack.js'

const SCRIPT = fileURLToPath(new URL('../../extra/mender-device.sh', import.meta.url))
const KINDS = ['rsa', 'ec', 'ed25519', 'p384'] as const
const MAC = { rsa: '02:00:00:00:03:01', ec: '02:00:00:00:03:02', ed25519: '02:00:00:00:03:03', foreign: '02:00:00:00:03:04', p384: '02:00:00:00:03:05' }

interface ScriptResult { code: number, stdout: string, stderr: string }

describe('extra/mender-device.sh through the gateway', () => {
  let stack: Stack
  let dataRoot: string
  const results: Record<string, ScriptResult> = {}
  let devices: Record<(typeof KINDS)[number] | 'foreign', TestCert>

  const runLoop = async (name: string, mac: string, cert: TestCert): Promise<void> => {
    const args = ['-s', stack.gw.url, '-c', stack.pki.root.certPath, '-C', cert.chainPath, '-k', cert.keyPath,
      '-i', `mac=${mac}`, '-d', join(dataRoot, name), '-n', '1', '-N', '2', 'loop']
    results[name] = await new Promise((resolve) => {
      execFile('bash', [SCRIPT, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
    })
  }

  beforeAll(async () => {
    stack = await startStack()
    dataRoot = await mkdtemp(join(tmpdir(), 'mender-device-sh-'))
    devices = { ...stack.pki.devices, p384: await stack.pki.device('p384', 'ec-p384') }
    await Promise.all([
      ...KINDS.map(async (k) => await runLoop(k, MAC[k], devices[k])),
      runLoop('foreign', MAC.foreign, devices.foreign)
    ])
  })

  afterAll(async () => {
    await stack?.close()
    if (dataRoot !== undefined) await rm(dataRoot, { recursive: true, force: true })
  })

  const result = (name: string): ScriptResult => results[name] ?? { code: -1, stdout: '', stderr: 'not run' }
  const deviceId = (mac: string): string => stack.sim.state.deviceByIdentity({ mac })?.id ?? 'none'

  describe.each(KINDS)('%s device', (kind) => {
    it('completes two loop rounds (exit 0)', () => {
      expect(result(kind).code, result(kind).stderr).toBe(0)
    })

    it('is accepted in Mender on its first auth request', () => {
      expect(authRequestsFor(stack.sim, MAC[kind])).toHaveLength(1)
      expect(stack.sim.state.deviceByIdentity({ mac: MAC[kind] })?.status).toBe('accepted')
    })

    it('has its inventory stored in Mender', () => {
      const attrs = stack.sim.state.deviceByIdentity({ mac: MAC[kind] })?.attributes ?? []
      expect(attrs).toContainEqual(expect.objectContaining({ name: 'client', value: 'mender-device.sh' }))
    })

    it('polls for deployments with its device JWT in every round', () => {
      const polls = requestsWithDeviceJwt(stack.sim, deviceId(MAC[kind])).filter((r) => r.url.includes('/deployments/next'))
      expect(polls.length).toBeGreaterThanOrEqual(2)
    })
  })

  it('runs the p384 device with an EC P-384 key', () => {
    expect(createPrivateKey(devices.p384.keyPem).asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
  })

  describe('device with a foreign certificate', () => {
    it('fails (exit 1)', () => {
      expect(result('foreign').code).toBe(1)
    })

    it('reaches nothing behind the gateway', () => {
      expect(authRequestsFor(stack.sim, MAC.foreign)).toEqual([])
    })
  })
})
