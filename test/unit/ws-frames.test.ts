// The websocket frame tracker follows frame boundaries however the bytes are split (7-bit, 16-bit and 64-bit
// lengths, masked or not, headers cut byte by byte), and the injected close frames are well formed.
import { describe, expect, it } from 'vitest'
import { FrameTracker, GOING_AWAY, closeFrame } from '../../src/gateway/proxy/ws-frames.js'

function frame (len: number, masked: boolean): Buffer {
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8)
  if (ext.length === 2) ext.writeUInt16BE(len)
  if (ext.length === 8) ext.writeBigUInt64BE(BigInt(len))
  const len7 = len < 126 ? len : len < 65536 ? 126 : 127
  const head = Buffer.from([0x82, len7 | (masked ? 0x80 : 0)])
  return Buffer.concat([head, ext, masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(len, 9)])
}

describe('FrameTracker', () => {
  const cases = [[0, false], [5, true], [125, false], [126, true], [300, false], [70000, true]] as const
  for (const [len, masked] of cases) {
    it(`is at a boundary only after the whole ${len}-byte ${masked ? 'masked' : 'unmasked'} frame`, () => {
      const bytes = frame(len, masked)
      for (const step of [1, 3, 7, bytes.length]) {
        const t = new FrameTracker()
        const seen: boolean[] = []
        for (let at = 0; at < bytes.length; at += step) {
          t.push(bytes.subarray(at, at + step))
          seen.push(t.atBoundary)
        }
        expect(seen.at(-1)).toBe(true)
        expect(seen.slice(0, -1).every((b) => !b)).toBe(true)
      }
    })
  }

  it('follows several frames in one chunk and stops mid-frame', () => {
    const t = new FrameTracker()
    const two = Buffer.concat([frame(10, false), frame(200, true)])
    t.push(two)
    expect(t.atBoundary).toBe(true)
    t.push(frame(10, false).subarray(0, 5))
    expect(t.atBoundary).toBe(false)
  })
})

describe('closeFrame', () => {
  it('is an unmasked close with code 1001 towards the device', () => {
    expect(closeFrame(GOING_AWAY, false)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xe9]))
  })

  it('is a masked close whose unmasked payload is 1001 towards Mender', () => {
    const f = closeFrame(GOING_AWAY, true)
    expect(f.length).toBe(8)
    expect(f.subarray(0, 2)).toEqual(Buffer.from([0x88, 0x82]))
    const mask = f.subarray(2, 6)
    const code = Buffer.from([(f[6] ?? 0) ^ (mask[0] ?? 0), (f[7] ?? 0) ^ (mask[1] ?? 0)]).readUInt16BE()
    expect(code).toBe(1001)
  })
})
