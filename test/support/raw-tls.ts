// Raw HTTP/1.1 over an mTLS socket, for request targets and header spellings no HTTP client library would send:
// write bytes as given, read everything the gateway answers until it closes (or a quiet period passes).
import { connect, type TLSSocket } from 'node:tls'
import type { TestCert, TestPki } from './pki.js'

export interface RawAnswer {
  /** Everything received, as latin1 text. */
  text: string
  /** Status of the first response ('' when none). */
  status: number
  /** Whether the gateway closed the connection (rather than the quiet period ending the read). */
  closed: boolean
}

/** Opens an mTLS connection to the gateway as `device`. */
export async function openRaw (port: number, pki: TestPki, device: TestCert): Promise<TLSSocket> {
  const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.root.certPem, cert: device.chainPem, key: device.keyPem })
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve())
    socket.once('error', reject)
  })
  return socket
}

/**
 * Reads until the peer closes, or nothing arrives for `quietMs` after the last byte (before the first byte the wait
 * is at least `firstByteMs`: a loaded machine may take a while to answer).
 */
export async function readAll (
  socket: TLSSocket, quietMs = 800, maxMs = 10_000, firstByteMs = 5000
): Promise<RawAnswer> {
  return await new Promise((resolve) => {
    let text = ''
    let quiet: NodeJS.Timeout | undefined
    const done = (closed: boolean): void => {
      clearTimeout(quiet)
      clearTimeout(limit)
      socket.removeAllListeners('data')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ text, status, closed })
    }
    const rearm = (): void => {
      clearTimeout(quiet)
      quiet = setTimeout(() => done(false), text === '' ? Math.max(quietMs, firstByteMs) : quietMs)
    }
    const limit = setTimeout(() => done(false), maxMs)
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); rearm() })
    socket.once('close', () => done(true))
    socket.once('error', () => {})
    rearm()
  })
}

/** Sends `bytes` on a fresh mTLS connection and reads the answer. */
export async function rawExchange (
  port: number, pki: TestPki, device: TestCert, bytes: string | Buffer, quietMs?: number
): Promise<RawAnswer> {
  const socket = await openRaw(port, pki, device)
  try {
    socket.write(bytes)
    return await readAll(socket, quietMs)
  } finally {
    socket.destroy()
  }
}

/** The JSON body of the first response in `text` (undefined when there is none or it is not JSON). */
export function jsonBody (text: string): Record<string, unknown> | undefined {
  const start = text.indexOf('\r\n\r\n')
  if (start < 0) return undefined
  const rest = text.slice(start + 4)
  const end = rest.indexOf('}')
  try {
    return JSON.parse(rest.slice(0, end + 1)) as Record<string, unknown>
  } catch {
    return undefined
  }
}
