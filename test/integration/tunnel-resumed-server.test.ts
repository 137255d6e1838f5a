// A forward tunnel resumes its TLS 1.3 session with the remote while an earlier connection is still open. A resumed
// session carries no server certificate on the client side, so the tunnel checks again the one of the full
// handshake the ticket came from: every connection is carried, none is refused as "no certificate".
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { connectTo, echoServer, forwardTunnel, reverseTunnel, socketDir, startTunnels, type TunnelsHandle } from '../support/tunnel.js'
import { eventually } from '../support/device.js'

let pki: TestPki
let echo: Awaited<ReturnType<typeof echoServer>>
let reverse: TunnelsHandle
let forward: TunnelsHandle
let dir: Awaited<ReturnType<typeof socketDir>>

beforeAll(async () => {
  pki = await makeTestPki()
  echo = await echoServer()
  dir = await socketDir()
  reverse = await startTunnels([reverseTunnel(pki, `127.0.0.1:${echo.port}`)])
  forward = await startTunnels([forwardTunnel(pki, pki.devices.ec, `unix:${dir.dir}/agent.sock`, reverse.address('reverse'))])
})

afterAll(async () => {
  await forward?.close()
  await reverse?.close()
  await echo?.close()
  await dir?.cleanup()
  await pki?.cleanup()
})

/** Opens a connection through the forward tunnel and waits for `text` to come back. */
async function echoed (text: string): Promise<Socket> {
  const s = connectTo(forward.address('forward'))
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString() })
  s.on('error', () => {})
  await once(s, 'connect')
  s.write(text)
  expect(await eventually(() => got === text || s.destroyed, 10_000)).toBe(true)
  expect(got).toBe(text)
  return s
}

describe('forward tunnel session resumption', () => {
  it('carries connections on a resumed session while the first one stays open', async () => {
    const first = await echoed('first')
    // the tickets arrive after the handshake: wait until the reverse side has issued them and they were taken
    await new Promise((resolve) => setTimeout(resolve, 300))
    const others = []
    for (let i = 0; i < 3; i++) others.push(await echoed(`next ${i}`))
    for (const s of [first, ...others]) s.end()
    expect(await eventually(() => forward.logs.filter((l) => l.msg === 'tunnel connection closed').length === 4, 10_000))
      .toBe(true)
    expect(forward.withCode('MTLS_ERR_TLS_NO_CERT')).toEqual([])
    // the later connections were resumed sessions, checked again by the reverse side too
    expect(reverse.logs.some((l) => l.msg === 'tls admitted' && l.resumed === true)).toBe(true)
  })
})
