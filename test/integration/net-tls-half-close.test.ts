// What Node's TLS needs for half-close in TLS 1.3, pinned as tests (the pipe relies on each): which side's
// allowHalfOpen counts, where it is inherited from, and what a FIN without close_notify looks like.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => { pki = await makeTestPki() })
afterAll(async () => { await pki.cleanup() })

type ServerMake = 'tls.createServer' | 'new TLSSocket over net.Server'
interface Case { server: ServerMake, serverHalf: boolean, clientHalf: boolean, clientOverSocket?: boolean }

/**
 * One connection: the `first` side ends right away with a greeting, the other answers 100 ms after it saw that end.
 * Resolves with what the first side heard: '+late-<other>' when half-close worked, '' when the answer was lost.
 */
async function exchange (c: Case, first: 'client' | 'server', tlsHalf?: boolean): Promise<string> {
  const key = pki.server.keyPem
  const cert = pki.server.chainPem
  let serverHeard: Promise<string> = Promise.resolve('')
  const onSecure = (s: tls.TLSSocket): void => { serverHeard = actor(s, 'server', first === 'server') }
  const server = c.server === 'tls.createServer'
    ? tls.createServer({ key, cert, allowHalfOpen: c.serverHalf, minVersion: 'TLSv1.3' }, onSecure)
    : net.createServer({ allowHalfOpen: c.serverHalf }, (raw) => {
      const own = { allowHalfOpen: true } // ignored: the wrapped socket's allowHalfOpen counts
      const secureContext = tls.createSecureContext({ key, cert })
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext, ...own })
      onSecure(s)
    })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const base = { ca: pki.root.certPem, servername: 'localhost', minVersion: 'TLSv1.3' as const }
  const client = c.clientOverSocket === true
    ? tls.connect({ ...base, socket: net.connect({ port, host: '127.0.0.1', allowHalfOpen: c.clientHalf }), ...{ allowHalfOpen: tlsHalf } })
    : tls.connect({ ...base, port, host: '127.0.0.1', ...{ allowHalfOpen: c.clientHalf } })
  const clientHeard = await actor(client, 'client', first === 'client')
  await new Promise((resolve) => server.close(resolve))
  return first === 'client' ? clientHeard : await serverHeard
}

/** Resolves with what `s` heard before its end and whether its late answer went out ("+late" in the peer's text). */
async function actor (s: tls.TLSSocket, name: string, endsFirst: boolean): Promise<string> {
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString() })
  s.on('error', () => {})
  if (endsFirst) s.end(`${name}-first`) // written once the handshake is done
  s.on('end', () => { if (!endsFirst) setTimeout(() => s.end(`+late-${name}`), 100) })
  return await new Promise((resolve) => s.once('close', () => resolve(got)))
}

describe('Node TLS 1.3 half-close', () => {
  it.each([
    ['tls.createServer', 'client'], ['tls.createServer', 'server'],
    ['new TLSSocket over net.Server', 'client'], ['new TLSSocket over net.Server', 'server']
  ] as const)('works both ways with allowHalfOpen on both sides (%s, %s ends first)', async (server, first) => {
    const heardByFirst = await exchange({ server, serverHalf: true, clientHalf: true }, first)
    expect(heardByFirst).toBe(`+late-${first === 'client' ? 'server' : 'client'}`)
  })

  it('loses the answer when the side receiving close_notify lacks allowHalfOpen (Node ends it at once)', async () => {
    expect(await exchange({ server: 'tls.createServer', serverHalf: false, clientHalf: true }, 'client')).toBe('')
    expect(await exchange({ server: 'tls.createServer', serverHalf: true, clientHalf: false }, 'server')).toBe('')
  })

  it('takes a server TLSSocket\'s allowHalfOpen from the accepted net socket, not from TLSSocket options', async () => {
    expect(await exchange({ server: 'new TLSSocket over net.Server', serverHalf: false, clientHalf: true }, 'client'))
      .toBe('')
  })

  it('takes tls.connect({ socket })\'s allowHalfOpen from that socket; its own allowHalfOpen option is ignored', async () => {
    const over = { server: 'tls.createServer', serverHalf: true, clientOverSocket: true } as const
    expect(await exchange({ ...over, clientHalf: false }, 'server', true)).toBe('')
    expect(await exchange({ ...over, clientHalf: true }, 'server', false)).toBe('+late-client')
  })

  it('honours allowHalfOpen set on an accepted TLSSocket after the handshake, before its end arrives', async () => {
    const server = tls.createServer({ key: pki.server.keyPem, cert: pki.server.chainPem }, (s) => {
      s.allowHalfOpen = true
      s.resume()
      s.on('end', () => setTimeout(() => s.end('late'), 100))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem })
    expect(await actor(client, 'client', true)).toBe('late')
    await new Promise((resolve) => server.close(resolve))
  })

  it('reads a TCP FIN without close_notify as a plain end: truncation is invisible to the application', async () => {
    let got = ''
    const ended = new Promise<string>((resolve) => {
      const options = { key: pki.server.keyPem, cert: pki.server.chainPem, allowHalfOpen: true }
      const server = tls.createServer(options, (s) => {
        s.on('data', (d: Buffer) => { got += d.toString() })
        s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? ''}`))
        s.on('end', () => { resolve('end'); s.destroy(); server.close() })
      })
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as net.AddressInfo).port
        const ca = join(pki.dir, 'root-for-python.pem')
        writeFileSync(ca, pki.root.certPem)
        // Python's SSLSocket: send data, then shut the TCP write side down without sending close_notify
        const py = `import socket, ssl
ctx = ssl.create_default_context(cafile=${JSON.stringify(ca)})
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', ${port})), server_hostname='localhost')
s.sendall(b'partial')
socket.socket.shutdown(s, socket.SHUT_WR)
s.recv(1)
`
        spawn('python3', ['-c', py], { stdio: 'ignore' })
      })
    })
    expect(await ended).toBe('end')
    expect(got).toBe('partial')
  })
})
