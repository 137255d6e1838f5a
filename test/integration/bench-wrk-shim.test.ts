// The benchmark's load generator: wrk, which has no client-certificate option, presents the device certificate
// through the preload shim (an mTLS server that requires a certificate answers it), fails without the shim, and the
// shim's controls (full handshakes only, one identity per handshake) do what they say.
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildShim, runWrk, wrkScript } from '../../bench/wrk.js'
import { makeTestPki, type TestPki } from '../support/pki.js'

const hasWrk = spawnSync('wrk', ['-v']).error === undefined && spawnSync('cc', ['--version']).status === 0

describe.skipIf(!hasWrk)('wrk with the client-certificate shim', () => {
  let pki: TestPki
  let server: Server
  let port: number
  let shim: string
  const subjects: string[] = []
  const bodies: string[] = []
  const script = wrkScript([{ method: 'GET', path: '/', headers: {} }])
  const closeScript = wrkScript([{ method: 'GET', path: '/', headers: { Connection: 'close' } }])

  beforeAll(async () => {
    pki = await makeTestPki()
    shim = buildShim()
    server = createServer({
      cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.trust.pem, requestCert: true, rejectUnauthorized: true
    }, (req, res) => {
      subjects.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN))
      let body = ''
      req.on('data', (d: Buffer) => { body += d.toString() })
      req.on('end', () => { bodies.push(body); res.end('ok') })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await pki.cleanup()
  })

  const run = async (s: string, tls: Parameters<typeof runWrk>[0]['tls'], url = `https://localhost:${port}/`): Promise<Awaited<ReturnType<typeof runWrk>>> =>
    await runWrk({ url, script: s, connections: 1, threads: 1, seconds: 1, shim: tls === undefined ? '' : shim, dir: pki.dir, ...(tls === undefined ? {} : { tls }) })

  it('gets answers from a server that requires a client certificate', async () => {
    subjects.length = 0
    const r = await run(script, { cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath })
    expect(r.requests).toBeGreaterThan(0)
    expect([r.socketErrors, r.statusErrors]).toEqual([0, 0])
    expect(new Set(subjects)).toEqual(new Set(['ec']))
  })

  it('gets no answer without the shim', async () => {
    const r = await run(script, undefined)
    expect(r.requests).toBe(0)
    expect(r.socketErrors).toBeGreaterThan(0)
  })

  it('resumes sessions across reconnects by default, and never when told not to', async () => {
    const tls = { cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath }
    const resuming = await run(closeScript, tls)
    expect(resuming.handshakes).toBeGreaterThan(2)
    expect(resuming.resumed).toBeGreaterThan(0)
    const full = await run(closeScript, { ...tls, noResume: true })
    expect(full.handshakes).toBeGreaterThan(2)
    expect(full.resumed).toBe(0)
  })

  it('presents the identities of a list in turn, one per handshake, in step with the script\'s requests', async () => {
    const list = `${pki.dir}/identities.txt`
    const other = await pki.device('other')
    await writeFile(list, `${pki.devices.ec.chainPath} ${pki.devices.ec.keyPath}\n${other.chainPath} ${other.keyPath}\n`)
    subjects.length = 0
    bodies.length = 0
    const inTurn = wrkScript(['ec', 'other'].map((body) => ({ method: 'POST', path: '/', headers: { Connection: 'close' }, body })))
    const r = await run(inTurn, { cert: '', key: '', list })
    expect(r.resumed).toBe(0)
    expect(subjects.length).toBeGreaterThan(3)
    expect(subjects.slice(0, 4)).toEqual(['ec', 'other', 'ec', 'other'])
    expect(bodies).toEqual(subjects)
  })
})
