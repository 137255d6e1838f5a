// CRLs fetched from a distribution point over real HTTP: applied before the first connection, re-fetched on a
// schedule (a changed CRL triggers a reload), and the last good copy kept when the distribution point fails.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:tls'
import { request } from 'undici'
import type { TestCert, TestPki } from '../support/pki.js'
import { startGateway, type GatewayHandle, openBackend, type Backend } from '../support/gateway.js'
import { eventually } from '../support/device.js'
import type { Simulator } from '../../src/tools/simulator/index.js'
import { issueCrl } from '../../src/tools/pki/index.js'

let pki: TestPki
let sim: Simulator
let backend: Backend
let cdp: Server
let served = { status: 200, body: '' }
let url: string

beforeAll(async () => {
  ;({ pki, sim } = backend = await openBackend())
  cdp = createServer((_req, res) => { res.writeHead(served.status, { 'content-type': 'application/pkix-crl' }).end(served.body) })
  await new Promise<void>((resolve) => cdp.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(cdp.address() as AddressInfo).port}/root.crl`
})

afterAll(async () => {
  await new Promise((resolve) => cdp?.close(resolve))
  await backend?.close()
})

async function admitted (gw: GatewayHandle, dev: TestCert): Promise<boolean> {
  return await new Promise((resolve) => {
    let data = ''
    const s = connect({ port: gw.port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem })
    s.on('secureConnect', () => s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
    s.on('data', (d: Buffer) => { data += d.toString() })
    s.on('error', () => {})
    s.on('close', () => resolve(data.startsWith('HTTP/1.1 200')))
  })
}

it('applies a fetched CRL from the start, follows its updates and keeps the last good copy on failure', async () => {
  served = { status: 200, body: await issueCrl(pki.root, { revokedSerials: [pki.devices.rsa.serialHex] }) }
  const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { crl_urls: url, crl_fetch_interval: 200 } })
  try {
    expect(await admitted(gw, pki.devices.rsa)).toBe(false)
    expect(await admitted(gw, pki.devices.ec)).toBe(true)

    served = {
      status: 200,
      body: await issueCrl(pki.root, { revokedSerials: [pki.devices.rsa.serialHex, pki.devices.ec.serialHex] })
    }
    expect(await eventually(() => gw.logs.some((l) => l.event === 'reload' && l.trigger === 'crl-fetch' && l.changed === true), 5000)).toBe(true)
    expect(await admitted(gw, pki.devices.ec)).toBe(false)

    served = { status: 500, body: '' }
    expect(await eventually(() => gw.withCode('MTLS_ERR_CRL_FETCH').length > 0, 5000)).toBe(true)
    expect(await admitted(gw, pki.devices.ec)).toBe(false)
    expect(await admitted(gw, pki.devices.ed25519)).toBe(true)
    const metrics = await (await request(gw.statusUrl + '/metrics')).body.text()
    expect(metrics).toMatch(/^mtls_crl_fetches_total\{result="failed"\} [1-9]/m)
  } finally {
    await gw.close()
  }
})
