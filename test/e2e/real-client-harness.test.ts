// Self-test of the real-client harness against the simulator over plain HTTPS (no gateway, no client certificate
// checks): the real Mender client's first auth request for an unknown device is refused and leaves it pending.
import { createPublicKey } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../src/tools/simulator/index.js'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { bootstrap, cleanupRealClients, createDevice, missingRealClientBinaries, startDbus, type RunResult } from '../support/real-client.js'

const MAC = '02:00:00:00:0a:01'

describe('real Mender client harness (direct to the simulator)', () => {
  let pki: TestPki
  let sim: Simulator
  let result: RunResult

  beforeAll(async () => {
    expect(missingRealClientBinaries(), 'run scripts/fetch-real-client.sh').toEqual([])
    pki = await makeTestPki()
    sim = await startSimulator({ tls: { cert: pki.server.chainPem, key: pki.server.keyPem } })
    const dev = createDevice({
      name: 'harness-unknown',
      mac: MAC,
      serverUrl: sim.url,
      serverCaPem: pki.root.certPem,
      certPem: pki.devices.ec.chainPem,
      keyPem: pki.devices.ec.keyPem
    })
    result = await bootstrap(dev, { timeoutMs: 15_000 })
  })

  afterAll(async () => {
    await cleanupRealClients()
    await sim?.close()
    await pki?.cleanup()
  })

  it('exits non-zero when the server refuses an unknown device', () => {
    expect(result.code, result.stderr).toBe(1)
  })

  it('reports the 401 answer of the server', () => {
    expect(result.stderr).toMatch(/dev auth: unauthorized/)
  })

  it('sends the identity from its per-device identity script, which the simulator records as pending', () => {
    expect(sim.state.deviceByIdentity({ mac: MAC })?.status).toBe('pending')
  })

  it('signs with the HttpsClient key when no AuthPrivateKey is set', () => {
    const authSets = sim.state.deviceByIdentity({ mac: MAC })?.authSets ?? []
    const spki = (pem: string): string => createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString()
    expect(authSets.map((a) => spki(a.pubkey))).toEqual([spki(pki.devices.ec.keyPem)])
  })

  it('starts a private D-Bus system bus on a unix socket', async () => {
    const bus = await startDbus()
    expect(bus.address).toMatch(/^unix:path=/)
    await bus.stop()
  })
})
