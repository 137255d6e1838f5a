// The real Mender client with Mender's recommended two-level PKI: the device presents leaf + intermediate in
// `HttpsClient.Certificate`, the gateway's tenant bundle holds only the root. It bootstraps; once a CRL by the root
// revokes the intermediate, the same device is refused at the handshake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bootstrap, type Device, type RunResult } from '../support/real-client.js'
import { issueCrl } from '../../src/tools/pki/index.js'
import { authRequestsFor, deviceFor, eventually, preauthsFor, startStack, type Stack } from './support/stack.js'
import { labelValues } from '../support/metrics.js'

const MAC = '02:00:00:00:06:01'

describe('real Mender client sending its chain to a root-only tenant bundle', () => {
  let stack: Stack
  let crlDir: string
  let device: Device
  let first: RunResult
  let afterRevocation: RunResult
  let authsBefore = 0

  beforeAll(async () => {
    crlDir = await mkdtemp(join(tmpdir(), 'mtls-chain-crl-'))
    const crlPath = join(crlDir, 'root.crl')
    stack = await startStack((pki) => ({ tenant_ca_pem: pki.root.certPath, crl_paths: crlDir }))
    device = deviceFor(stack, 'chain', MAC, stack.pki.devices.viaIntermediate)
    first = await bootstrap(device, { timeoutMs: 20_000 })
    authsBefore = authRequestsFor(stack.sim, MAC).length
    await writeFile(crlPath + '.tmp', await issueCrl(stack.pki.root, { revokedSerials: [stack.pki.intermediate.serialHex] }))
    await rename(crlPath + '.tmp', crlPath)
    await stack.gw.reload()
    afterRevocation = await bootstrap(device, { timeoutMs: 20_000 })
  })

  afterAll(async () => {
    await stack?.close()
    if (crlDir !== undefined) await rm(crlDir, { recursive: true, force: true })
  })

  it('sends leaf and intermediate, and the bundle holds only the root', async () => {
    expect(stack.pki.devices.viaIntermediate.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2)
    expect(await labelValues(stack.gw.statusUrl, 'mtls_ca_certificate_expiry_seconds', 'subject')).toEqual([stack.pki.root.cert.subject])
  })

  it('bootstraps (exit 0), preauthorized once, accepted', () => {
    expect(first.code, first.stderr).toBe(0)
    expect(preauthsFor(stack.sim, MAC)).toHaveLength(1)
    expect(stack.sim.state.deviceByIdentity({ mac: MAC })?.status).toBe('accepted')
  })

  it('is refused at the handshake once the root revokes its intermediate (MTLS_ERR_TLS_REVOKED)', async () => {
    expect(afterRevocation.code, afterRevocation.stderr).toBe(1)
    await eventually(() => stack.gw.withCode('MTLS_ERR_TLS_REVOKED').find((r) => (r.device as { cn?: string } | undefined)?.cn === 'via-intermediate'))
    expect(authRequestsFor(stack.sim, MAC)).toHaveLength(authsBefore)
  })
})
