// A TCP relay that replaces one byte string by another of the same length in what the client sends: with TLS 1.2
// (certificates travel in clear) it delivers a certificate no TLS library would send to the server under test.
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface WireSwap { port: number, swapped: () => number, close: () => Promise<void> }

function relay (client: Socket, port: number, from: Buffer, to: Buffer, onSwap: () => void): void {
  const upstream = connect({ port, host: '127.0.0.1' })
  let held = Buffer.alloc(0)
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    if (held.length > 0) upstream.write(held)
    held = Buffer.alloc(0)
  }
  client.on('data', (chunk: Buffer) => {
    clearTimeout(timer)
    held = Buffer.concat([held, chunk])
    const at = held.indexOf(from)
    if (at >= 0) {
      to.copy(held, at)
      onSwap()
    }
    // keep a tail that may hold the start of `from`, flushed shortly unless more bytes complete it
    const keep = Math.min(held.length, from.length - 1)
    upstream.write(held.subarray(0, held.length - keep))
    held = Buffer.from(held.subarray(held.length - keep))
    timer = setTimeout(flush, 30)
  })
  upstream.on('data', (chunk: Buffer) => client.write(chunk))
  const end = (): void => { clearTimeout(timer); client.destroy(); upstream.destroy() }
  client.on('close', end).on('error', end)
  upstream.on('close', end).on('error', end)
}

/** Starts a relay on a free loopback port towards `port`. */
export async function startWireSwap (port: number, from: Buffer, to: Buffer): Promise<WireSwap> {
  if (from.length !== to.length) throw new Error('the replacement must have the same length')
  let swaps = 0
  const server: Server = createServer((client) => relay(client, port, from, to, () => { swaps++ }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    swapped: () => swaps,
    close: async () => { await new Promise((resolve) => server.close(resolve)) }
  }
}
