// Legitimate devices for the reliability scenarios: each authenticates once (preauthorized by the gateway, token
// from Mender), then alternates deployment polls and inventory updates until told to stop; every request goes through
// the ledger, and the inventory each device last wrote must be its own in Mender's state afterwards.
import { Agent } from 'undici'
import type { Simulator } from '../../../src/tools/simulator/index.js'
import { authRequest, deviceAgent, postAuth, send } from '../../support/device.js'
import type { TestCert, TestPki } from '../../support/pki.js'
import type { Ledger } from './ledger.js'

export interface Fleet {
  devices: Array<{ mac: string, cert: TestCert }>
  /** Runs every device until `until` (a time) or `maxRequests` each; resolves when all stopped. */
  run: (url: string, ledger: Ledger, until: number, maxRequests?: number) => Promise<void>
  /** Devices whose last inventory write is not what Mender holds for them (for another device, lost). */
  misattributed: (sim: Simulator) => string[]
}

const NEXT = '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=t'
const INVENTORY = '/api/devices/v1/inventory/device/attributes'

export async function makeFleet (pki: TestPki, count: number, prefix = '02:00:00:00:aa'): Promise<Fleet> {
  const devices = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const mac = `${prefix}:${i.toString(16).padStart(2, '0')}`
    return { mac, cert: await pki.device(`fleet-${mac}`, 'ec') }
  }))
  const last = new Map<string, number>()
  const runOne = async (d: typeof devices[number], url: string, ledger: Ledger, until: number, max: number):
  Promise<void> => {
    let agent: Agent = deviceAgent(pki, d.cert)
    try {
      const auth = await ledger.run(`${d.mac}/auth`, async () => await postAuth(agent, url, authRequest(d.cert.keyPem, { mac: d.mac })),
        (a) => a.status === 200 || `auth ${a.status} ${a.text.slice(0, 120)}`)
      if (auth?.status !== 200) return
      const headers = { authorization: `Bearer ${auth.text}` }
      for (let i = 0; i < max && Date.now() < until; i++) {
        // every fourth request on a fresh connection: new handshakes are what a flood competes with
        if (i % 4 === 3) { await agent.close(); agent = deviceAgent(pki, d.cert) }
        if (i % 2 === 0) {
          await ledger.run(`${d.mac}/next/${i}`, async () => await send(agent, url + NEXT, { headers }),
            (a) => a.status === 204 || `next ${a.status} ${a.text.slice(0, 120)}`)
        } else {
          const body = JSON.stringify([{ name: 'seq', value: i }, { name: 'mac', value: d.mac }])
          const a = await ledger.run(`${d.mac}/inventory/${i}`, async () => await send(agent, url + INVENTORY, {
            method: 'PATCH', body, headers: { ...headers, 'content-type': 'application/json' }
          }), (x) => x.status === 200 || `inventory ${x.status} ${x.text.slice(0, 120)}`)
          if (a?.status === 200) last.set(d.mac, i)
        }
      }
    } finally {
      await agent.close()
    }
  }
  return {
    devices,
    run: async (url, ledger, until, maxRequests = 10_000) => {
      await Promise.all(devices.map(async (d) => await runOne(d, url, ledger, until, maxRequests)))
    },
    misattributed: (sim) => devices.flatMap((d) => {
      const view = sim.state.deviceByIdentity({ mac: d.mac })
      const attrs = new Map((view?.attributes ?? []).map((a) => [a.name, a.value]))
      const want = last.get(d.mac)
      return want !== undefined && (attrs.get('seq') !== want || attrs.get('mac') !== d.mac)
        ? [`${d.mac}: seq ${String(attrs.get('seq'))} mac ${String(attrs.get('mac'))}, wrote ${want}`]
        : []
    })
  }
}
