// Unix socket files: what sits at a path (free, a stale socket, a live one, something else), binding in a private
// 0700 directory so the socket is never reachable before its mode and owner are set, atomic placement, and removal
// only of the very socket file we created.
import { chmodSync, chownSync, linkSync, lstatSync, mkdtempSync, rmdirSync, statSync, unlinkSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { UNIX_PATH_MAX } from './address.js'

/** Identity of one file: a replaced path (even one reusing the inode number) compares different. */
export interface FileId { dev: bigint, ino: bigint, birth: bigint, ctime: bigint }

export type PathState =
  | { kind: 'free' }
  | { kind: 'stale', id: FileId }
  | { kind: 'live' }
  | { kind: 'unknown', problem: string }
  | { kind: 'other', what: string }

const PROBE_TIMEOUT_MS = 1000

const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err)

/** lstat identity of `path`, or undefined when nothing is there. */
export function fileId (path: string): FileId | undefined {
  try {
    const s = lstatSync(path, { bigint: true })
    return { dev: s.dev, ino: s.ino, birth: s.birthtimeNs, ctime: s.ctimeNs }
  } catch {
    return undefined
  }
}

export function sameFile (a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino && a.birth === b.birth &&
    a.ctime === b.ctime
}

function describe (path: string): string | undefined {
  const s = lstatSync(path, { throwIfNoEntry: false })
  if (s === undefined) return undefined
  if (s.isSocket()) return 'socket'
  if (s.isSymbolicLink()) return 'a symbolic link'
  if (s.isDirectory()) return 'a directory'
  if (s.isFile()) return 'a regular file'
  return 'a special file'
}

/** Connects once: a refused connection means nobody listens (stale); a timeout counts as live (a busy server). */
export async function probe (path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<'live' | 'stale' | 'free' | string> {
  return await new Promise((resolve) => {
    const socket = connect({ path })
    let settled = false
    const done = (result: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done('live'), timeoutMs)
    socket.once('connect', () => done('live'))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('stale')
      else if (err.code === 'ENOENT') done('free')
      else if (err.code === 'EAGAIN') done('live')
      else done(err.code ?? err.message)
    })
  })
}

/** What is at `path` now; a socket is probed by connecting to it. */
export async function inspectPath (path: string): Promise<PathState> {
  let what: string | undefined
  try {
    what = describe(path)
  } catch (err) {
    return { kind: 'unknown', problem: (err as NodeJS.ErrnoException).code ?? 'lstat failed' }
  }
  if (what === undefined) return { kind: 'free' }
  if (what !== 'socket') return { kind: 'other', what }
  const id = fileId(path)
  const result = await probe(path)
  if (result === 'free') return { kind: 'free' }
  if (result === 'live') return { kind: 'live' }
  if (result === 'stale' && id !== undefined) return { kind: 'stale', id }
  return { kind: 'unknown', problem: `cannot tell whether it is in use (${result})` }
}

/** The parent directory must exist; refuses a parent whose private bind path would exceed sun_path. */
export function checkParent (path: string): string | undefined {
  const parent = dirname(path)
  const s = statSync(parent, { throwIfNoEntry: false })
  if (s === undefined) return `parent directory ${parent} does not exist`
  if (!s.isDirectory()) return `parent ${parent} is not a directory`
  const privatePath = join(parent, '.mtls-XXXXXX', 's')
  if (Buffer.byteLength(privatePath) > UNIX_PATH_MAX) {
    return `parent directory path is too long to bind privately (${privatePath} exceeds ${UNIX_PATH_MAX} bytes)`
  }
  return undefined
}

/** A fresh 0700 directory beside `path`, and the socket path inside it to bind to. */
export function privateBindPath (path: string): { dir: string, socket: string } {
  const dir = mkdtempSync(join(dirname(path), '.mtls-'))
  return { dir, socket: join(dir, 's') }
}

/** Owner, group and mode on the still-private socket; chown first so the mode never applies to the wrong group. */
export function setAccess (socket: string, mode: number, uid: number | undefined, gid: number | undefined): void {
  if (uid !== undefined || gid !== undefined) chownSync(socket, uid ?? -1, gid ?? -1)
  chmodSync(socket, mode)
}

export type Placement = { ok: true, id: FileId } | { ok: false, inUse: boolean, problem: string }

/**
 * Gives the bound socket its public name. link(2) fails if anything appeared at `path` meanwhile, so a racing
 * instance is never clobbered; a stale socket is unlinked first only if it is still the one inspected.
 */
export function placeSocket (privateSocket: string, path: string, before: PathState): Placement {
  if (before.kind === 'stale') {
    const now = fileId(path)
    if (now !== undefined && !sameFile(now, before.id)) {
      return { ok: false, inUse: true, problem: `${path} was replaced while starting` }
    }
    try {
      if (now !== undefined) unlinkSync(path)
    } catch (err) {
      return { ok: false, inUse: false, problem: `cannot remove the stale socket ${path}: ${errCode(err)}` }
    }
  }
  try {
    linkSync(privateSocket, path)
  } catch (err) {
    const code = errCode(err)
    return { ok: false, inUse: code === 'EEXIST', problem: `cannot create ${path}: ${code}` }
  }
  try { unlinkSync(privateSocket) } catch {}
  const id = fileId(path)
  return id === undefined ? { ok: false, inUse: false, problem: `${path} vanished while starting` } : { ok: true, id }
}

/** Removes the private directory (and the bind name if still there); never throws. */
export function removePrivate (dir: string): void {
  try { unlinkSync(join(dir, 's')) } catch {}
  try { rmdirSync(dir) } catch {}
}

/** Unlinks `path` only if it is still the socket file identified by `id`. */
export function removeIfOurs (path: string, id: FileId): boolean {
  if (!sameFile(fileId(path), id)) return false
  try {
    unlinkSync(path)
    return true
  } catch {
    return false
  }
}
