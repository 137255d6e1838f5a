// The bash device client offline: it parses, explains itself, refuses bad usage, and signs the exact auth
// request bytes so the ambassador's own verifier accepts them for every key type.
import { spawnSync } from 'node:child_process'
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestPki, type TestCert, type TestPki } from '../support/pki.js'
import { verifyBodySignature } from '../../src/gateway/device-auth/signature.js'
import { sameKey, spkiDer } from '../../src/gateway/device-auth/keys.js'

const SCRIPT = fileURLToPath(new URL('../../extra/mender-device.sh', import.meta.url))

function client (...args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: pki.dir } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Runs `auth --dry-run` for a device and returns the body bytes and the signature it printed. */
function dryRun (device: TestCert, ...extra: string[]): { body: Buffer, signature: string } {
  const r = client('--key', device.keyPath, '--data-dir', `${pki.dir}/client-${device.name}`, ...extra, 'auth', '--dry-run')
  const body = /^body=(.+)$/m.exec(r.stdout)?.[1] ?? ''
  return { body: readFileSync(body), signature: /^signature=(.+)$/m.exec(r.stdout)?.[1] ?? '' }
}

const signedBy = (device: TestCert): boolean => {
  const { body, signature } = dryRun(device)
  return verifyBodySignature(body, signature, createPublicKey(device.keyPem))
}

let pki: TestPki
beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

describe('extra/mender-device.sh', () => {
  it('passes bash -n', () => {
    expect(spawnSync('bash', ['-n', SCRIPT]).status).toBe(0)
  })

  it('prints its usage with --help and exits 0', () => {
    const r = client('--help')
    expect([r.code, /auth\s.*\n\s+inventory[\s\S]*poll[\s\S]*status[\s\S]*loop/.test(r.stdout)]).toEqual([0, true])
  })

  it('exits 2 on an unknown command', () => {
    expect(client('reboot').code).toBe(2)
  })

  it('exits 2 when the device certificate is not given', () => {
    expect(client('--key', pki.devices.ec.keyPath, 'status').code).toBe(2)
  })

  it('signs an RSA device\'s request so the ambassador\'s verifier accepts it', () => {
    expect(signedBy(pki.devices.rsa)).toBe(true)
  })

  it('signs an EC device\'s request so the ambassador\'s verifier accepts it', () => {
    expect(signedBy(pki.devices.ec)).toBe(true)
  })

  it('signs an Ed25519 device\'s request so the ambassador\'s verifier accepts it', () => {
    expect(signedBy(pki.devices.ed25519)).toBe(true)
  })

  it('sends the device key as the request pubkey', () => {
    const { body } = dryRun(pki.devices.ec)
    const pubkey = createPublicKey((JSON.parse(body.toString()) as { pubkey: string }).pubkey)
    expect(sameKey(spkiDer(pubkey), spkiDer(createPublicKey(pki.devices.ec.keyPem)))).toBe(true)
  })

  it('sends id_data as a JSON string of the identity attributes', () => {
    const { body } = dryRun(pki.devices.ec, '-i', 'mac=02:00:00:00:00:07', '-i', 'sku="x"')
    const idData = (JSON.parse(body.toString()) as { id_data: string }).id_data
    expect(JSON.parse(idData)).toEqual({ mac: '02:00:00:00:00:07', sku: '"x"' })
  })

  it('adds the tenant token when one is given', () => {
    const { body } = dryRun(pki.devices.ec, '--tenant-token', 'tt-1')
    expect((JSON.parse(body.toString()) as { tenant_token?: string }).tenant_token).toBe('tt-1')
  })

  it('leaves the tenant token out when none is given', () => {
    expect(Object.keys(JSON.parse(dryRun(pki.devices.ec).body.toString()) as object)).toEqual(['id_data', 'pubkey'])
  })
})

describe('extra/mender-client.sh (the original interface)', () => {
  const WRAPPER = fileURLToPath(new URL('../../extra/mender-client.sh', import.meta.url))
  const wrapper = (...args: string[]): { code: number | null, stdout: string } => {
    const r = spawnSync('bash', [WRAPPER, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: pki.dir } })
    return { code: r.status, stdout: r.stdout }
  }

  it('passes bash -n', () => {
    expect(spawnSync('bash', ['-n', WRAPPER]).status).toBe(0)
  })

  it('prints the original options and variables with --help and exits 0', () => {
    const r = wrapper('--help')
    expect(r.code).toBe(0)
    for (const word of ['--token', '--device-type', 'MENDER_SERVER_URL', 'MENDER_CLIENT_CERT', 'MENDER_CLIENT_KEY']) {
      expect(r.stdout).toContain(word)
    }
  })

  it('exits 2 when an option lacks its value', () => {
    expect(wrapper('-t').code).toBe(2)
  })
})
