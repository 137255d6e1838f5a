// systemd notifications received by a real AF_UNIX datagram socket: the texts, the sender credentials (our pid, so
// NotifyAccess=main works as root), MONOTONIC_USEC on the right clock, order, and no injection through STATUS.
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNotifier, notifyAssignments } from '../../src/net/sd-notify.js'
import { tempDir } from '../support/net.js'
import { notifyReceiver } from '../support/notify-socket.js'

let dir: string
let cleanup: () => void
let receiver: Awaited<ReturnType<typeof notifyReceiver>>
let socket: string

beforeEach(async () => {
  ({ dir, cleanup } = tempDir('net-notify-'))
  socket = join(dir, 'notify.sock')
  receiver = await notifyReceiver(socket)
})
afterEach(async () => {
  await receiver.stop()
  cleanup()
})

const env = (): Record<string, string | undefined> => ({ NOTIFY_SOCKET: socket, PATH: process.env.PATH })

describe('sd_notify', () => {
  it('sends READY=1 with a status, with our pid in the credentials and as MAINPID', async () => {
    const n = createNotifier(env())
    expect(n.enabled).toBe(true)
    expect(await n.notify({ ready: true, status: 'serving 2 tunnels' })).toEqual({ sent: true })
    expect(await receiver.next()).toEqual({ pid: process.pid, text: `MAINPID=${process.pid}\nREADY=1\nSTATUS=serving 2 tunnels` })
  })

  it('sends RELOADING=1 with MONOTONIC_USEC read from CLOCK_MONOTONIC, then STOPPING=1, in call order', async () => {
    const n = createNotifier(env())
    const before = process.hrtime.bigint() / 1000n
    const reloading = n.notify({ reloading: true })
    const ready = n.notify({ ready: true })
    const stopping = n.notify({ stopping: true })
    const after = process.hrtime.bigint() / 1000n
    expect(await Promise.all([reloading, ready, stopping])).toEqual([{ sent: true }, { sent: true }, { sent: true }])
    const first = await receiver.next()
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(first.text)?.[1] ?? '0')
    expect(first.text).toMatch(/^MAINPID=\d+\nRELOADING=1\nMONOTONIC_USEC=\d+$/)
    expect(usec >= before && usec <= after).toBe(true)
    expect((await receiver.next()).text).toBe(`MAINPID=${process.pid}\nREADY=1`)
    expect((await receiver.next()).text).toBe(`MAINPID=${process.pid}\nSTOPPING=1`)
  })

  it('turns control characters in STATUS into spaces, so no assignment can be injected', async () => {
    await createNotifier(env()).notify({ status: 'bad\nREADY=1\rx' })
    expect((await receiver.next()).text).toBe(`MAINPID=${process.pid}\nSTATUS=bad READY=1 x`)
  })

  it('does nothing without NOTIFY_SOCKET and reports failures instead of throwing', async () => {
    const off = createNotifier({ PATH: process.env.PATH })
    expect(off.enabled).toBe(false)
    expect(await off.notify({ ready: true })).toEqual({ sent: false, skipped: 'no_notify_socket' })
    expect(await createNotifier({ NOTIFY_SOCKET: 'relative' }).notify({ ready: true }))
      .toMatchObject({ sent: false, problem: expect.stringContaining('neither an absolute path') })
    expect(await createNotifier(env(), { command: join(dir, 'no-such-binary') }).notify({ ready: true }))
      .toEqual({ sent: false, problem: 'systemd-notify not found' })
    expect(await createNotifier({ ...env(), NOTIFY_SOCKET: join(dir, 'nobody-here') }).notify({ ready: true }))
      .toMatchObject({ sent: false, problem: expect.stringContaining('systemd-notify failed') })
    expect(await createNotifier(env()).notify({})).toEqual({ sent: false, problem: 'nothing to notify' })
  })

  it('builds the assignments in a fixed order', () => {
    expect(notifyAssignments({ stopping: true, ready: true, reloading: true, status: 's' }, 42n))
      .toEqual({ ok: true, value: ['RELOADING=1', 'MONOTONIC_USEC=42', 'READY=1', 'STOPPING=1', 'STATUS=s'] })
  })
})
