// Just enough of RFC 6455 framing to end a tunnelled websocket politely: a tracker that follows frame boundaries in
// a byte stream (headers of 2-14 bytes, payloads skipped), and the close frames the gateway injects on shutdown.
import { randomBytes } from 'node:crypto'

/** Close code 1001 "going away": the server is shutting down. */
export const GOING_AWAY = 1001

/** Follows a websocket byte stream and knows whether it stands between two frames. */
export class FrameTracker {
  private header: Buffer = Buffer.alloc(0)
  private remaining = 0

  /** Whether every frame seen so far is complete (the next byte starts a frame). */
  get atBoundary (): boolean { return this.remaining === 0 && this.header.length === 0 }

  push (chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at)
        this.remaining -= take
        at += take
        continue
      }
      // a header is at most 14 bytes: collected byte by byte, payloads are skipped in bulk
      this.header = Buffer.concat([this.header, chunk.subarray(at, at + 1)])
      at += 1
      const size = headerSize(this.header)
      if (size !== undefined && this.header.length === size) {
        this.remaining = payloadLength(this.header)
        this.header = Buffer.alloc(0)
      }
    }
  }
}

/** The length of a frame header (undefined until its first two bytes are known). */
function headerSize (h: Buffer): number | undefined {
  const b1 = h[1]
  if (b1 === undefined) return undefined
  const len7 = b1 & 0x7f
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0
  return 2 + ext + ((b1 & 0x80) !== 0 ? 4 : 0)
}

function payloadLength (h: Buffer): number {
  const len7 = (h[1] ?? 0) & 0x7f
  if (len7 === 126) return h.readUInt16BE(2)
  if (len7 === 127) return Number(h.readBigUInt64BE(2))
  return len7
}

/** A close frame with `code`: unmasked towards a client, masked (as RFC 6455 requires) towards a server. */
export function closeFrame (code: number, masked: boolean): Buffer {
  const payload = Buffer.alloc(2)
  payload.writeUInt16BE(code)
  if (!masked) return Buffer.concat([Buffer.from([0x88, 0x02]), payload])
  const mask = randomBytes(4)
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)))
  return Buffer.concat([Buffer.from([0x88, 0x82]), mask, body])
}
