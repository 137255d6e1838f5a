// Draining a tunnel waits for every accepted connection, also one still in its TLS handshake when the drain begins:
// it completes, is carried, and only then does close() resolve.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { once } from 'node:events'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { echoServer, reverseTunnel, startTunnels } from '../support/tunnel.js'

let pki: TestPki
let echo: Awaited<ReturnType<typeof echoServer>>

beforeAll(async () => {
  pki = await makeTestPki()
  echo = await echoServer()
})

afterAll(async () => {
  await echo?.close()
  await pki?.cleanup()
})

it('waits for a connection that was still in its handshake when the drain began', async () => {
  const tunnels = await startTunnels([reverseTunnel(pki, `127.0.0.1:${echo.port}`)])
  const address = tunnels.address('reverse')
  const raw = netConnect({ host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) })
  await once(raw, 'connect')
  await new Promise((resolve) => setTimeout(resolve, 100))
  let closed = false
  const closing = tunnels.close().then(() => { closed = true })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const s = tlsConnect({
    socket: raw, servername: 'localhost', ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem
  })
  await once(s, 'secureConnect')
  const echoed = new Promise<string>((resolve) => {
    let text = ''
    s.on('data', (d: Buffer) => { text += d.toString() })
    s.once('end', () => resolve(text))
  })
  s.end('late but welcome')
  expect(await echoed).toBe('late but welcome')
  expect(closed).toBe(false)
  s.destroy()
  await closing
  expect(tunnels.logs.some((l) => l.event === 'tunnel_connection' && l.bytesIn === 16)).toBe(true)
})
