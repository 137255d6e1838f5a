// The e2e stack: a fresh test PKI, the Mender simulator over HTTPS and the gateway in front of it, plus real-client
// device factories and the simulator queries the e2e suites assert with.
import { expect } from 'vitest'
import { decodeJwtClaims, startSimulator, type RecordedRequest, type Simulator } from '../../../src/tools/simulator/index.js'
import { startGateway, type GatewayHandle } from '../../support/gateway.js'
import { makeTestPki, type TestCert, type TestPki } from '../../support/pki.js'
import { cleanupRealClients, createDevice, missingRealClientBinaries, type Device, type DeviceOptions } from '../../support/real-client.js'

export interface Stack {
  pki: TestPki
  sim: Simulator
  gw: GatewayHandle
  close: () => Promise<void>
}

type Overrides = Parameters<typeof startGateway>[0]['overrides']

/**
 * Starts PKI, simulator (HTTPS) and gateway; fails when the real-client binaries are missing (never skips).
 * `overrides` may depend on the fresh PKI (e.g. a tenant bundle of the root only).
 */
export async function startStack (overrides?: Overrides | ((pki: TestPki) => Overrides)): Promise<Stack> {
  expect(missingRealClientBinaries(), 'the real Mender client is missing: run scripts/fetch-real-client.sh').toEqual([])
  const pki = await makeTestPki()
  const sim = await startSimulator({ tls: { cert: pki.server.chainPem, key: pki.server.keyPem } })
  const given = typeof overrides === 'function' ? overrides(pki) : overrides
  const gw = await startGateway({ pki, backendUrl: sim.url, ...(given === undefined ? {} : { overrides: given }) })
  const close = async (): Promise<void> => {
    await cleanupRealClients()
    await gw.close()
    await sim.close()
    await pki.cleanup()
  }
  return { pki, sim, gw, close }
}

/** A real-client device that talks to `serverUrl` (the gateway unless told) with `cert` as its TLS identity. */
export function deviceFor (stack: Stack, name: string, mac: string, cert: TestCert | undefined,
  extra: Partial<DeviceOptions> = {}): Device {
  return createDevice({
    name,
    mac,
    serverUrl: stack.gw.url,
    serverCaPem: stack.pki.root.certPem,
    ...(cert === undefined ? {} : { certPem: cert.chainPem, keyPem: cert.keyPem }),
    ...extra
  })
}

const bodyMentions = (r: RecordedRequest, mac: string): boolean => r.bodyBytes.toString('utf8').includes(mac)

/** Auth requests for `mac` that reached the simulator. */
export function authRequestsFor (sim: Simulator, mac: string): RecordedRequest[] {
  return sim.requests.filter((r) => r.group === 'auth_requests' && bodyMentions(r, mac))
}

/** Preauthorization calls for `mac` that reached the simulator (a 409 + force retry counts two). */
export function preauthsFor (sim: Simulator, mac: string): RecordedRequest[] {
  return sim.requests.filter((r) => r.group === 'preauth' && bodyMentions(r, mac))
}

/** Requests that carried a device JWT issued to `deviceId` (`Authorization: Bearer <jwt>` with `sub` = id). */
export function requestsWithDeviceJwt (sim: Simulator, deviceId: string): RecordedRequest[] {
  return sim.requests.filter((r) => {
    const auth = r.headers.authorization
    if (typeof auth !== 'string' || !auth.startsWith('Bearer ')) return false
    const claims = decodeJwtClaims(auth.slice('Bearer '.length)) as Record<string, unknown> | undefined
    return claims?.sub === deviceId && claims['mender.device'] === true
  })
}

/** Polls `check` until it returns a defined value (or throws the last assertion error after `timeoutMs`). */
export async function eventually<T> (check: () => T | undefined, timeoutMs = 15_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let last: unknown
    try {
      const value = check()
      if (value !== undefined) return value
    } catch (err) { last = err }
    if (Date.now() > deadline) throw last ?? new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}
