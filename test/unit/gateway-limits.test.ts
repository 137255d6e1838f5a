// The gateway's connection caps on a real listening socket: the total cap lowered to what the open-file limit carries
// (logged once at start, each refusal logged with its code), and an accept error on the listening server logged,
// never thrown out of the 'error' event (Node emits one when accept fails, e.g. EMFILE).
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { limitConnections } from '../../src/gateway/limits.js'

class Capture extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  override _write (chunk: Buffer, _enc: string, cb: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l !== '') this.lines.push(JSON.parse(l) as Record<string, unknown>)
    cb()
  }
}

const open: Array<Server | Socket> = []
afterEach(() => {
  for (const x of open.splice(0)) {
    if ('destroy' in x) x.destroy()
    else x.close()
  }
})

async function listening (server: Server): Promise<number> {
  open.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

const closes = async (s: Socket): Promise<boolean> => await Promise.race([
  new Promise<boolean>((resolve) => s.once('close', () => resolve(true))),
  new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000))
])

describe('gateway connection limits', () => {
  it('caps open connections at what the open-file limit carries, with a start warning and coded refusals', async () => {
    const log = new Capture()
    const server = createServer((s) => { open.push(s) })
    // (70 - 64 reserved) / 2 descriptors each: three connections
    limitConnections(server, { max: 10_000, perIp: 0, log: pino(log), onRefused: () => {}, fileLimit: 70 })
    const port = await listening(server)
    expect(log.lines.filter((l) => l.code === 'MTLS_WARN_FD_LIMIT')).toMatchObject([{ maxConnections: 3, openFileLimit: 70 }])
    const clients = Array.from({ length: 5 }, () => {
      const s = connect({ port, host: '127.0.0.1' }).on('error', () => {}).resume()
      open.push(s)
      return s
    })
    const closed = await Promise.all(clients.map(closes))
    expect(closed.filter(Boolean)).toHaveLength(2)
    const refused = log.lines.filter((l) => l.code === 'MTLS_ERR_TLS_CONN_LIMIT')
    expect(refused).toHaveLength(2)
    expect(refused[0]?.limit).toBe('total 3 (open-file limit 70)')
  })

  it('keeps a cap below the open-file budget as configured, without a warning', async () => {
    const log = new Capture()
    limitConnections(createServer(), { max: 100, perIp: 0, log: pino(log), onRefused: () => {}, fileLimit: 1024 })
    expect(log.lines).toEqual([])
  })

  it('logs an accept error on the listening server instead of throwing it', async () => {
    const log = new Capture()
    const server = createServer()
    limitConnections(server, { max: 0, perIp: 0, log: pino(log), onRefused: () => {}, fileLimit: undefined })
    await listening(server)
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' })
    expect(() => server.emit('error', emfile)).not.toThrow()
    expect(log.lines.filter((l) => l.code === 'MTLS_ERR_ACCEPT')).toMatchObject([{ cause: 'EMFILE' }])
    expect(server.listening).toBe(true)
  })
})
