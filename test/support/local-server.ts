// Small helpers for tests that stand up their own HTTP server on loopback, and a text sink for captured logs.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'

/** Listens on 127.0.0.1 with a free port; resolves with the base URL. */
export async function listenOnLoopback (server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes a server and every connection it still has. */
export async function closeServer (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

/** Collects everything written to it as text (log output). */
export class TextSink extends Writable {
  text = ''
  override _write (chunk: Buffer, _enc: string, cb: () => void): void { this.text += chunk.toString(); cb() }
}
