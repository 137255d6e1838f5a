// A raw HTTP/2 client for tests: one request written as frames over an mTLS socket (ALPN `h2`), its header block of
// literal fields without Huffman coding, so a test can send fields a conforming client (Node's own) refuses to send,
// and the frames the server answered, read without HPACK decoding (status from an answered DATA body, resets).
import { connect } from 'node:tls'
import type { TestCert, TestPki } from './pki.js'

export interface RawFrame { type: number, flags: number, stream: number, payload: Buffer }
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const

function frame (type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

/** A literal header field without indexing, name and value as raw bytes (latin1), each under 127 bytes. */
function literal (name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1')
  const v = Buffer.from(value, 'latin1')
  if (n.length > 126 || v.length > 126) throw new RangeError('field too long for a one-byte length')
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v])
}

function readFrames (buf: Buffer): RawFrame[] {
  const frames: RawFrame[] = []
  let off = 0
  while (off + 9 <= buf.length) {
    const len = buf.readUIntBE(off, 3)
    if (off + 9 + len > buf.length) break
    const stream = buf.readUInt32BE(off + 5) & 0x7fffffff
    const payload = buf.subarray(off + 9, off + 9 + len)
    frames.push({ type: buf[off + 3] ?? -1, flags: buf[off + 4] ?? 0, stream, payload })
    off += 9 + len
  }
  return frames
}

/**
 * Sends one request (HEADERS with END_STREAM on stream 1) and collects the frames received until stream 1 ends
 * (END_STREAM or RST_STREAM), the connection closes, or `waitMs` passes.
 */
export async function rawH2Request (
  port: number, pki: TestPki, device: TestCert, fields: Array<[string, string]>, waitMs = 2000
): Promise<RawFrame[]> {
  const socket = connect({
    port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: pki.root.certPem,
    cert: device.chainPem,
    key: device.keyPem,
    ALPNProtocols: ['h2']
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve())
    socket.once('close', () => reject(new Error('closed')))
  })
  const block = Buffer.concat(fields.map(([n, v]) => literal(n, v)))
  const END_STREAM_AND_HEADERS = 0x5
  socket.write(Buffer.concat([
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)), frame(FRAME.HEADERS, END_STREAM_AND_HEADERS, 1, block)
  ]))
  let buf = Buffer.alloc(0)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs)
    const done = (): void => { clearTimeout(timer); resolve() }
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const ends = (f: RawFrame): boolean =>
        f.type === FRAME.RST_STREAM || (f.type === FRAME.DATA && (f.flags & 1) === 1)
      const ended = readFrames(buf).some((f) => f.stream === 1 && ends(f))
      if (ended) done()
    })
    socket.once('close', done)
  })
  socket.destroy()
  return readFrames(buf)
}

/** The body the server sent on stream 1 ('' when none). */
export function bodyOf (frames: RawFrame[]): string {
  return Buffer.concat(frames.filter((f) => f.stream === 1 && f.type === FRAME.DATA).map((f) => f.payload)).toString()
}

/** True when the server reset stream 1. */
export function wasReset (frames: RawFrame[]): boolean {
  return frames.some((f) => f.stream === 1 && f.type === FRAME.RST_STREAM)
}
