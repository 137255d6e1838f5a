// Sockets passed by systemd socket activation (sd_listen_fds(3) semantics): LISTEN_PID must be this process,
// LISTEN_FDS counts fds from 3 on, LISTEN_FDNAMES names them. Reads an env object it is given, never process.env.
import { fstatSync } from 'node:fs'
import type { InheritedAddress, Parsed } from './address.js'

export type Env = Record<string, string | undefined>

export interface InheritedFd { fd: number, name: string }

/** First fd systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3
const MAX_FDS = 4096
const LISTEN_VARS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const

const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem })

/** The fds systemd passed to process `pid`, with their names ('unknown' when LISTEN_FDNAMES is unset). */
export function listenFds (env: Env, pid: number): Parsed<InheritedFd[]> {
  const listenPid = env.LISTEN_PID
  const count = env.LISTEN_FDS
  if (count === undefined || count === '') return bad('LISTEN_FDS is not set (not started by socket activation)')
  if (listenPid === undefined || listenPid === '') return bad('LISTEN_PID is not set')
  if (!/^[0-9]+$/.test(listenPid) || Number(listenPid) !== pid) {
    return bad(`LISTEN_PID ${listenPid} is not this process (${pid}): the sockets were meant for another process`)
  }
  if (!/^[0-9]+$/.test(count) || Number(count) < 1 || Number(count) > MAX_FDS) {
    return bad(`LISTEN_FDS '${count}' is invalid`)
  }
  const n = Number(count)
  const names = env.LISTEN_FDNAMES === undefined ? Array<string>(n).fill('unknown') : env.LISTEN_FDNAMES.split(':')
  if (names.length !== n) return bad(`LISTEN_FDNAMES has ${names.length} names for ${n} fds`)
  return { ok: true, value: names.map((name, i) => ({ fd: LISTEN_FDS_START + i, name })) }
}

/** The fd an inherited address stands for: `systemd:NAME` by LISTEN_FDNAMES, `fd:N` as given. */
export function pickFd (address: InheritedAddress, env: Env, pid: number): Parsed<number> {
  let fd: number
  if (address.name !== undefined) {
    const fds = listenFds(env, pid)
    if (!fds.ok) return fds
    const matching = fds.value.filter((f) => f.name === address.name)
    const known = [...new Set(fds.value.map((f) => f.name))].join(', ')
    if (matching.length === 0) return bad(`no socket named '${address.name}' (LISTEN_FDNAMES has: ${known})`)
    if (matching.length > 1) {
      return bad(`${matching.length} sockets are named '${address.name}'; give each a distinct FileDescriptorName=`)
    }
    fd = (matching[0] as InheritedFd).fd
  } else if (address.fd !== undefined) {
    fd = address.fd
  } else {
    return bad('inherited address has neither a name nor an fd')
  }
  return checkSocketFd(fd)
}

function checkSocketFd (fd: number): Parsed<number> {
  try {
    if (!fstatSync(fd).isSocket()) return bad(`fd ${fd} is not a socket`)
  } catch (err) {
    return bad(`fd ${fd} is not open (${(err as NodeJS.ErrnoException).code ?? 'fstat failed'})`)
  }
  return { ok: true, value: fd }
}

/**
 * Deletes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from `env` (sd_listen_fds' unset_environment), so processes
 * spawned with that env do not take the sockets for theirs. Call it once, after every inherited listener is up.
 */
export function unsetListenEnv (env: Env): void {
  for (const name of LISTEN_VARS) Reflect.deleteProperty(env, name)
}
