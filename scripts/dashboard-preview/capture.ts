// Records the data of the dashboard preview: a real gateway in front of the Mender simulator and a forward → reverse
// tunnel pair, all in this process on loopback, under a little synthetic load (devices authenticating and polling,
// refused handshakes and auth requests, dropped upstream connections, a trust reload, tunnel traffic), with both
// status listeners' /metrics scraped every second.
import { request, type Agent } from 'undici'
import { openBackend, startGateway } from '../../test/support/gateway.js'
import { authRequest, deviceAgent, postAuth, send, tlsProbe } from '../../test/support/device.js'
import { connectTo, echoServer, forwardTunnel, reverseTunnel, socketDir, startTunnels } from '../../test/support/tunnel.js'
import type { Socket } from 'node:net'
import type { TestCert } from '../../test/support/pki.js'

export interface Scrape { t: number, instance: string, text: string }

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const MACS = { ec: '02:00:00:00:0a:01', rsa: '02:00:00:00:0a:02', ed25519: '02:00:00:00:0a:03' } as const

async function scrape (url: string): Promise<string> {
  const res = await request(`${url}/metrics`)
  return await res.body.text()
}

/** One second of device traffic: every device polls; now and then a refused handshake, auth or upstream drop. */
type Kind = keyof typeof MACS
interface Ctx {
  gwUrl: string
  port: number
  agents: Record<Kind, Agent>
  jwts: Record<Kind, string>
  pki: Awaited<ReturnType<typeof openBackend>>['pki']
  sim: Awaited<ReturnType<typeof openBackend>>['sim']
  revoked: TestCert
}

const probe = async (port: number, opts: Record<string, unknown>): Promise<void> => { await tlsProbe(port, opts) }

/** One second of device traffic: every device polls; now and then a refused handshake, auth or upstream drop. */
async function deviceRound (i: number, c: Ctx): Promise<void> {
  c.sim.faults.latency('device', 5 + Math.round(60 * Math.abs(Math.sin(i / 7))))
  const kinds = Object.keys(MACS) as Kind[]
  const json = { 'content-type': 'application/json' }
  const polls: Array<Promise<unknown>> = kinds.flatMap((k) => {
    const auth = { authorization: `Bearer ${c.jwts[k]}` }
    return [
      send(c.agents[k], c.gwUrl + '/api/devices/v1/deployments/device/deployments/next?device_type=demo&artifact_name=r1', { headers: auth }),
      send(c.agents[k], c.gwUrl + '/api/devices/v1/inventory/device/attributes', { method: 'PUT', body: '[]', headers: { ...auth, ...json } })
    ]
  })
  if (i % 5 === 0) polls.push(send(c.agents.ec, c.gwUrl + '/ping'))
  if (i % 10 === 1) polls.push(postAuth(c.agents.ec, c.gwUrl, authRequest(c.pki.devices.ec.keyPem, { mac: MACS.ec })))
  const as = (cert: TestCert): Record<string, unknown> =>
    ({ ca: c.pki.root.certPem, cert: cert.chainPem, key: cert.keyPem })
  if (i % 6 === 3) polls.push(probe(c.port, as(c.pki.devices.foreign)))
  if (i % 9 === 4) polls.push(probe(c.port, { ca: c.pki.root.certPem }))
  if (i % 12 === 8) polls.push(probe(c.port, as(c.revoked)))
  if (i % 8 === 2) polls.push(postAuth(c.agents.rsa, c.gwUrl, authRequest(c.pki.devices.ec.keyPem, { mac: MACS.rsa })))
  if (i % 10 === 7) c.sim.faults.dropNext('device', 1)
  await Promise.allSettled(polls)
}

/** Runs the load for `seconds` and returns every scrape (t in seconds since the epoch). */
export async function capture (seconds: number): Promise<Scrape[]> {
  const { pki, sim, close } = await openBackend()
  const revoked = await pki.device('revoked')
  const crl = await pki.crl('root', [revoked.serialHex])
  const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { log_level: 'warn', crl_paths: crl.path } })
  const echo = await echoServer()
  const dir = await socketDir()
  const reverse = await startTunnels([reverseTunnel(pki, echo.address, { name: 'bus' })], { log_level: 'warn' })
  const forward = await startTunnels([forwardTunnel(pki, pki.devices.ec, `unix:${dir.dir}/agent.sock`, reverse.address('bus'), { name: 'agent' })], { log_level: 'warn' })
  const agents = {
    ec: deviceAgent(pki, pki.devices.ec),
    rsa: deviceAgent(pki, pki.devices.rsa),
    ed25519: deviceAgent(pki, pki.devices.ed25519)
  }
  const jwts = { ec: '', rsa: '', ed25519: '' }
  for (const [kind, mac] of Object.entries(MACS) as Array<[Kind, string]>) {
    jwts[kind] = (await postAuth(agents[kind], gw.url, authRequest(pki.devices[kind].keyPem, { mac }))).text
  }
  const held: Socket[] = []
  const scrapes: Scrape[] = []
  const port = Number(new URL(gw.url).port)
  try {
    for (let i = 0; i < seconds; i++) {
      const started = Date.now()
      await deviceRound(i, { gwUrl: gw.url, port, agents, jwts, pki, sim, revoked })
      if (i === Math.floor(seconds / 2)) await gw.reload()
      // tunnel traffic: a few long connections come and go, each carrying bytes now and then
      if (i % 4 === 0 && held.length < 6) held.push(connectTo(forward.address('agent')).on('error', () => {}))
      if (i % 7 === 6) held.shift()?.end()
      for (const s of held) s.write(Buffer.alloc(2000 + 1000 * (i % 5)))
      if (i % 11 === 5) await tlsProbe(Number(reverse.address('bus').split(':').at(-1)), { ca: pki.root.certPem })
      const t = Date.now() / 1000
      scrapes.push({ t, instance: 'gateway', text: await scrape(gw.statusUrl) })
      scrapes.push({ t, instance: 'tunnel-agent', text: await scrape(forward.statusUrl) })
      scrapes.push({ t, instance: 'tunnel-bus', text: await scrape(reverse.statusUrl) })
      await sleep(Math.max(0, 1000 - (Date.now() - started)))
    }
  } finally {
    for (const s of held) s.destroy()
    for (const a of Object.values(agents)) await a.close()
    await forward.close()
    await reverse.close()
    await echo.close()
    await dir.cleanup()
    await gw.close()
    await close()
  }
  return scrapes
}
