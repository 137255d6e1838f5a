// extra/mender-client.sh, invoked exactly as the original ambassador's device script was (`-t <tenant token> -d
// rpi4` with MENDER_SERVER_URL, MENDER_CLIENT_CERT and MENDER_CLIENT_KEY), through the gateway: the device is
// accepted with the tenant token, reports its device type and polls with its JWT; bad usage reaches nothing.
import { execFile } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestCert } from '../support/pki.js'
import { authRequestsFor, requestsWithDeviceJwt, startStack, type Stack } from './support/stack.js'

const SCRIPT = fileURLToPath(new URL('../../extra/mender-client.sh', import.meta.url))
const TOKEN = 'tenant-token-of-the-original-guide'

interface ScriptResult { code: number, stdout: string, stderr: string }

/** The identity the script derives from a device key: 00:11:22 and the first three bytes of the SPKI's SHA-256. */
function macOf (cert: TestCert): string {
  const der = createPublicKey(cert.keyPem).export({ type: 'spki', format: 'der' })
  const hex = createHash('sha256').update(der).digest('hex')
  return `00:11:22:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`
}

describe('extra/mender-client.sh (the original interface) through the gateway', () => {
  let stack: Stack
  let home: string
  const results: Record<string, ScriptResult> = {}

  const run = async (name: string, args: string[], env: Record<string, string>): Promise<ScriptResult> => {
    const base = { PATH: process.env.PATH ?? '', HOME: join(home, name), MENDER_INTERVAL: '1', MENDER_COUNT: '2' }
    return await new Promise((resolve) => {
      execFile('bash', [SCRIPT, ...args], { timeout: 30_000, env: { ...base, ...env } }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
    })
  }
  const deviceEnv = (cert: TestCert): Record<string, string> => ({
    MENDER_SERVER_URL: stack.gw.url,
    MENDER_CLIENT_CERT: cert.chainPath,
    MENDER_CLIENT_KEY: cert.keyPath,
    MENDER_CA_FILE: stack.pki.root.certPath
  })

  beforeAll(async () => {
    stack = await startStack()
    home = await mkdtemp(join(tmpdir(), 'mender-client-sh-'))
    const { ec, rsa, ed25519 } = stack.pki.devices
    const [original, long, noCert, noToken, unknown] = await Promise.all([
      run('original', ['-t', TOKEN, '-d', 'rpi4'], deviceEnv(ec)),
      run('long', ['--token', TOKEN], { ...deviceEnv(rsa), DEVICE_TYPE: 'beaglebone' }),
      run('no-cert', ['-t', TOKEN, '-d', 'rpi4'], { MENDER_SERVER_URL: stack.gw.url, MENDER_CA_FILE: stack.pki.root.certPath }),
      run('no-token', ['-d', 'rpi4'], deviceEnv(ed25519)),
      run('unknown', ['-t', TOKEN, '-x'], deviceEnv(ed25519))
    ])
    Object.assign(results, { original, long, noCert, noToken, unknown })
    // a second run of the same device keeps its identity (one device in Mender, not one per run)
    results.again = await run('original', ['-t', TOKEN, '-d', 'rpi4'], { ...deviceEnv(ec), MENDER_COUNT: '1' })
  })

  afterAll(async () => {
    await stack?.close()
    if (home !== undefined) await rm(home, { recursive: true, force: true })
  })

  const result = (name: string): ScriptResult => results[name] ?? { code: -1, stdout: '', stderr: 'not run' }
  const device = (cert: TestCert): ReturnType<Stack['sim']['state']['deviceByIdentity']> =>
    stack.sim.state.deviceByIdentity({ mac: macOf(cert) })
  const attribute = (cert: TestCert, name: string): unknown =>
    device(cert)?.attributes.find((a) => a.name === name)?.value

  describe('`mender-client.sh -t <token> -d rpi4` with the three variables', () => {
    it('completes its rounds (exit 0)', () => {
      expect(result('original').code, result('original').stderr).toBe(0)
    })

    it('is accepted in Mender under the identity derived from its key', () => {
      expect(device(stack.pki.devices.ec)?.status).toBe('accepted')
    })

    it('sends the tenant token in its auth request', () => {
      const bodies = authRequestsFor(stack.sim, macOf(stack.pki.devices.ec)).map((r) => JSON.parse(r.bodyBytes.toString('utf8')) as Record<string, unknown>)
      expect(bodies.length).toBeGreaterThanOrEqual(1)
      for (const body of bodies) expect(body.tenant_token).toBe(TOKEN)
    })

    it('reports the device type given with -d', () => {
      expect(attribute(stack.pki.devices.ec, 'device_type')).toBe('rpi4')
    })

    it('polls for deployments with its device JWT', () => {
      const id = device(stack.pki.devices.ec)?.id ?? 'none'
      expect(requestsWithDeviceJwt(stack.sim, id).filter((r) => r.url.includes('/deployments/next')).length).toBeGreaterThanOrEqual(2)
    })

    it('keeps its identity across runs', () => {
      expect(result('again').code, result('again').stderr).toBe(0)
      expect(authRequestsFor(stack.sim, macOf(stack.pki.devices.ec))).toHaveLength(2)
    })
  })

  it('takes --token, and the device type from DEVICE_TYPE as the original did', () => {
    expect(result('long').code, result('long').stderr).toBe(0)
    expect(attribute(stack.pki.devices.rsa, 'device_type')).toBe('beaglebone')
  })

  it('refuses to run without MENDER_CLIENT_CERT / MENDER_CLIENT_KEY (exit 2), naming them', () => {
    expect(result('noCert').code).toBe(2)
    expect(result('noCert').stderr).toContain('MENDER_CLIENT_CERT')
  })

  it('refuses to run without a tenant token (exit 2)', () => {
    expect(result('noToken').code).toBe(2)
  })

  it('refuses an unknown argument (exit 2)', () => {
    expect(result('unknown').code).toBe(2)
  })

  it('sends nothing for the refused invocations', () => {
    expect(authRequestsFor(stack.sim, macOf(stack.pki.devices.ed25519))).toEqual([])
  })
})
