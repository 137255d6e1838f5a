// The double proxy over real sockets: client → forward tunnel (Unix socket) → mTLS → reverse tunnel → TCP echo
// target; bytes arrive whole both ways, half-close reaches the target, and each connection is logged and counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { once } from 'node:events'
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

describe('double proxy', () => {
  it('echoes bytes through forward → reverse → target, and ends cleanly after a half-close', async () => {
    const s = connectTo(forward.address('forward'))
    const chunks: Buffer[] = []
    s.on('data', (d: Buffer) => chunks.push(d))
    await once(s, 'connect')
    s.end('hello through the tunnel')
    await once(s, 'end')
    expect(Buffer.concat(chunks).toString()).toBe('hello through the tunnel')
    s.destroy()
    expect(await eventually(() => forward.logs.some((l) => l.event === 'tunnel_connection' && l.bytesIn === 24 && l.bytesOut === 24))).toBe(true)
    expect(await eventually(() => reverse.logs.some((l) => l.event === 'tunnel_connection' && (l.peer as { cn?: string })?.cn === 'ec'))).toBe(true)
    expect(await reverse.metric('mtls_tunnel_connections_total', { tunnel: 'reverse', result: 'ok' })).toBe(1)
  })
})
