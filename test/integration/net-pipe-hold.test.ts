// A held pipe stops forwarding (bytes either peer sends afterwards are dropped), lets its owner write a last word and
// end both sockets, still sees both peers close, and reports the hold's reason once both have.
import net from 'node:net'
import { once } from 'node:events'
import { expect, it } from 'vitest'
import { pipeSockets, type PipeStats } from '../../src/net/pipe.js'

async function socketPair (): Promise<{ near: net.Socket, far: net.Socket, close: () => void }> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const far = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true })
  const [near] = await accepted
  await once(far, 'connect')
  return { near, far, close: () => server.close() }
}

function collect (s: net.Socket): { text: () => string, ended: Promise<unknown> } {
  let text = ''
  s.on('data', (d: Buffer) => { text += d.toString() })
  return { text: () => text, ended: once(s, 'end') }
}

it('drops what arrives after hold, delivers the owner\'s last word, and reports the hold reason', async () => {
  const a = await socketPair()
  const b = await socketPair()
  const fromA = collect(a.far)
  const fromB = collect(b.far)
  let reported: PipeStats | undefined
  const pipe = pipeSockets(a.near, b.near, { onClose: (s) => { reported = s } })
  a.far.write('before')
  await new Promise((resolve) => setTimeout(resolve, 100))
  pipe.hold('going_away')
  a.far.write('after-a')
  b.far.write('after-b')
  await new Promise((resolve) => setTimeout(resolve, 100))
  b.near.end('bye-b')
  a.near.end('bye-a')
  await Promise.all([fromA.ended, fromB.ended])
  a.far.end()
  b.far.end()
  const stats = await pipe.closed
  expect(fromB.text()).toBe('beforebye-b')
  expect(fromA.text()).toBe('bye-a')
  expect(stats.reason).toBe('going_away')
  expect(reported?.reason).toBe('going_away')
  a.close()
  b.close()
})
