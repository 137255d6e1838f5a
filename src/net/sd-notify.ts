// systemd readiness notification (sd_notify(3): READY=1, RELOADING=1 with MONOTONIC_USEC, STOPPING=1, STATUS=) to
// the NOTIFY_SOCKET of a given env object. Node cannot send AF_UNIX datagrams, so `systemd-notify --pid=<ours>` sends
// them, one at a time in order; a no-op without NOTIFY_SOCKET, and never throws (failures come back as a problem).
import { execFile } from 'node:child_process'
import type { Parsed } from './address.js'

export type Env = Record<string, string | undefined>

export interface NotifyMessage {
  ready?: boolean
  /** Type=notify-reload: RELOADING=1 goes with MONOTONIC_USEC (CLOCK_MONOTONIC, µs), as systemd requires. */
  reloading?: boolean
  stopping?: boolean
  /** Free text for `systemctl status`; control characters become spaces (no injected assignments). */
  status?: string
}

export interface NotifyResult { sent: boolean, skipped?: 'no_notify_socket', problem?: string }

export interface NotifierOptions {
  /** The pid the message is sent for (default process.pid); also sent as MAINPID. */
  pid?: number
  /** The systemd-notify binary (default 'systemd-notify' on the env's PATH). */
  command?: string
  /** systemd-notify is killed after this long (default 5000 ms). */
  timeoutMs?: number
}

export interface Notifier {
  /** False when the env has no NOTIFY_SOCKET: notify() then resolves { sent: false, skipped } at once. */
  readonly enabled: boolean
  notify: (msg: NotifyMessage) => Promise<NotifyResult>
}

const STATUS_MAX = 1024

/** CLOCK_MONOTONIC in µs: libuv's hrtime reads CLOCK_MONOTONIC on Linux, the clock systemd compares against. */
export const monotonicUsec = (): bigint => process.hrtime.bigint() / 1000n

/** The KEY=VALUE lines of one notification. */
export function notifyAssignments (msg: NotifyMessage, nowUsec: bigint = monotonicUsec()): Parsed<string[]> {
  const lines: string[] = []
  if (msg.reloading === true) lines.push('RELOADING=1', `MONOTONIC_USEC=${nowUsec}`)
  if (msg.ready === true) lines.push('READY=1')
  if (msg.stopping === true) lines.push('STOPPING=1')
  if (msg.status !== undefined) {
    const clean = [...msg.status].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c)).join('')
    lines.push(`STATUS=${clean.slice(0, STATUS_MAX)}`)
  }
  return lines.length === 0 ? { ok: false, problem: 'nothing to notify' } : { ok: true, value: lines }
}

function checkSocket (socket: string): string | undefined {
  if (socket.startsWith('/') || socket.startsWith('@')) return undefined
  return `NOTIFY_SOCKET '${socket}' is neither an absolute path nor an abstract socket (@name)`
}

function failure (e: NodeJS.ErrnoException & { killed?: boolean }, stderr: string): string {
  if (e.code === 'ENOENT') return 'systemd-notify not found'
  if (e.killed === true) return 'systemd-notify timed out'
  return `systemd-notify failed (${String(e.code ?? 'error')}): ${stderr.trim() || e.message}`
}

async function send (socket: string, lines: string[], env: Env, opts: NotifierOptions): Promise<NotifyResult> {
  const pid = opts.pid ?? process.pid
  const childEnv = { NOTIFY_SOCKET: socket, PATH: env.PATH ?? '/usr/bin:/bin' }
  return await new Promise((resolve) => {
    execFile(opts.command ?? 'systemd-notify', [`--pid=${pid}`, ...lines], {
      env: childEnv,
      timeout: opts.timeoutMs ?? 5000,
      killSignal: 'SIGKILL'
    }, (err, _stdout, stderr) => {
      if (err === null) {
        resolve({ sent: true })
        return
      }
      resolve({ sent: false, problem: failure(err as NodeJS.ErrnoException & { killed?: boolean }, stderr) })
    })
  })
}

/**
 * A notifier for `env` (NOTIFY_SOCKET is read once; env is not modified). Messages go out in call order. The unit
 * needs Type=notify (Type=notify-reload for RELOADING=1); running as root the datagram carries our pid, so the
 * default NotifyAccess=main works; as another user it carries systemd-notify's pid: set NotifyAccess=all.
 */
export function createNotifier (env: Env, opts: NotifierOptions = {}): Notifier {
  const socket = env.NOTIFY_SOCKET
  const enabled = socket !== undefined && socket !== ''
  let queue: Promise<unknown> = Promise.resolve()
  const notify = async (msg: NotifyMessage): Promise<NotifyResult> => {
    if (socket === undefined || socket === '') return { sent: false, skipped: 'no_notify_socket' }
    const problem = checkSocket(socket)
    if (problem !== undefined) return { sent: false, problem }
    const lines = notifyAssignments(msg)
    if (!lines.ok) return { sent: false, problem: lines.problem }
    const result = queue.then(async () => await send(socket, lines.value, env, opts))
    queue = result
    return await result
  }
  return { enabled, notify }
}
