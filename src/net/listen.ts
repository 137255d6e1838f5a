// Puts a net.Server (or tls.Server) on a parsed address: TCP, a Unix socket file with exact mode and owner that
// replaces only stale sockets and removes only its own file on close, or a socket inherited from systemd.
import type { AddressInfo, ListenOptions as NodeListenOptions, Server } from 'node:net'
import { NetErrors, type CodedError } from '../errors.js'
import { formatAddress, type Address, type InheritedAddress, type TcpAddress, type UnixAddress } from './address.js'
import { pickFd, type Env } from './systemd-fds.js'
import { resolveId, type Id } from './unix-ids.js'
import {
  checkParent, inspectPath, placeSocket, privateBindPath, removeIfOurs, removePrivate, setAccess,
  type FileId, type PathState
} from './unix-socket.js'

export interface ListenOptions {
  backlog?: number
  /** Unix sockets: permission bits of the socket file (default 0o600). */
  mode?: number
  /** Unix sockets: owner and group of the socket file, as names or numeric ids. */
  owner?: Id
  group?: Id
  /** Inherited sockets: the environment holding LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES (read, never modified). */
  env?: Env
  /** The pid LISTEN_PID must name (default process.pid). */
  pid?: number
  /** Where user and group names are looked up (default /etc/passwd and /etc/group). */
  passwdFile?: string
  groupFile?: string
}

export interface Listening {
  requested: Address
  /** What the server is bound to: the real port for port 0, the public path for Unix sockets. */
  local: Address
  /**
   * Stops listening (open connections are left to their owner) and removes the socket file if still ours. For
   * Unix sockets, server.address() names the private bind path, not the public one: use `local`.
   */
  close: () => Promise<void>
}

const DEFAULT_MODE = 0o600

/** Resolves once `server` listens on `address`; rejects with a coded NetErrors error, leaving nothing behind. */
export async function listen (server: Server, address: Address, opts: ListenOptions = {}): Promise<Listening> {
  const where = formatAddress(address)
  if (address.kind !== 'unix' && (opts.mode !== undefined || opts.owner !== undefined || opts.group !== undefined)) {
    throw new NetErrors.LISTEN(where, 'mode, owner and group apply to unix sockets only')
  }
  if (opts.backlog !== undefined && (!Number.isInteger(opts.backlog) || opts.backlog < 1)) {
    throw new NetErrors.LISTEN(where, `backlog ${String(opts.backlog)} is not a positive integer`)
  }
  if (address.kind === 'tcp') return await listenTcp(server, address, opts)
  if (address.kind === 'unix') return await listenUnix(server, address, opts)
  return await listenInherited(server, address, opts)
}

/** server.listen() as a promise; every failure becomes a coded error naming the address. */
async function listenOn (server: Server, options: NodeListenOptions | { fd: number }, address: Address,
  inherited = false): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      reject(listenError(err, address, inherited))
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    try {
      server.listen(options)
    } catch (err) {
      onError(err as NodeJS.ErrnoException)
    }
  })
}

function listenError (err: NodeJS.ErrnoException, address: Address, inherited: boolean): CodedError {
  const where = formatAddress(address)
  const why = err.code !== undefined && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message
  if (err.code === 'EADDRINUSE') return new NetErrors.LISTEN_IN_USE(where, { cause: err })
  if (inherited) return new NetErrors.LISTEN_INHERITED(where, why, { cause: err })
  return new NetErrors.LISTEN(where, why, { cause: err })
}

async function listenTcp (server: Server, address: TcpAddress, opts: ListenOptions): Promise<Listening> {
  await listenOn(server, { host: address.host, port: address.port, backlog: opts.backlog }, address)
  const info = server.address() as AddressInfo
  const local: Address = { kind: 'tcp', host: info.address, port: info.port }
  return { requested: address, local, close: closer(server, () => {}) }
}

async function listenInherited (server: Server, address: InheritedAddress, opts: ListenOptions): Promise<Listening> {
  const fd = pickFd(address, opts.env ?? {}, opts.pid ?? process.pid)
  if (!fd.ok) throw new NetErrors.LISTEN_INHERITED(formatAddress(address), fd.problem)
  await listenOn(server, { fd: fd.value }, address, true)
  return { requested: address, local: localOf(server, address), close: closer(server, () => {}) }
}

function localOf (server: Server, fallback: Address): Address {
  const info = server.address()
  if (typeof info === 'string') return info === '' ? fallback : { kind: 'unix', path: info }
  if (info === null) return fallback
  return { kind: 'tcp', host: info.address, port: info.port }
}

/** One close for all kinds: runs `before` (socket-file removal) while the listening handle still exists. */
function closer (server: Server, before: () => void): () => Promise<void> {
  let closed = false
  return async () => {
    if (closed) return
    closed = true
    before()
    server.close()
  }
}

async function unixIds (address: UnixAddress, opts: ListenOptions): Promise<{ uid?: number, gid?: number }> {
  const where = formatAddress(address)
  const ids: { uid?: number, gid?: number } = {}
  if (opts.owner !== undefined) {
    const r = await resolveId(opts.owner, opts.passwdFile ?? '/etc/passwd', 'user')
    if (!r.ok) throw new NetErrors.LISTEN_OWNER(where, r.problem)
    ids.uid = r.id
  }
  if (opts.group !== undefined) {
    const r = await resolveId(opts.group, opts.groupFile ?? '/etc/group', 'group')
    if (!r.ok) throw new NetErrors.LISTEN_OWNER(where, r.problem)
    ids.gid = r.id
  }
  return ids
}

async function checkUnixTarget (address: UnixAddress, mode: number): Promise<PathState> {
  const where = formatAddress(address)
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new NetErrors.LISTEN(where, `mode ${String(mode)} is not within 0o000-0o777`)
  }
  const parentProblem = checkParent(address.path)
  if (parentProblem !== undefined) throw new NetErrors.LISTEN_PATH(where, parentProblem)
  const state = await inspectPath(address.path)
  if (state.kind === 'live') throw new NetErrors.LISTEN_IN_USE(where)
  if (state.kind === 'other') {
    throw new NetErrors.LISTEN_PATH(where, `${address.path} exists and is ${state.what}, not a socket; left as it is`)
  }
  if (state.kind === 'unknown') {
    throw new NetErrors.LISTEN_PATH(where, `${address.path}: ${state.problem}; left as it is`)
  }
  return state
}

interface Access { mode: number, uid?: number, gid?: number }

async function listenUnix (server: Server, address: UnixAddress, opts: ListenOptions): Promise<Listening> {
  const access: Access = { mode: opts.mode ?? DEFAULT_MODE, ...await unixIds(address, opts) }
  const before = await checkUnixTarget(address, access.mode)
  const bind = privateFolder(address)
  let id: FileId
  try {
    await listenOn(server, { path: bind.socket, backlog: opts.backlog }, address)
    id = placeOrClose(server, bind.socket, address, before, access)
  } finally {
    removePrivate(bind.dir)
  }
  const removeOurs = (): void => { removeIfOurs(address.path, id) }
  server.once('close', removeOurs)
  return { requested: address, local: address, close: closer(server, removeOurs) }
}

function privateFolder (address: UnixAddress): { dir: string, socket: string } {
  try {
    return privateBindPath(address.path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    throw new NetErrors.LISTEN_PATH(formatAddress(address), `cannot create a private folder beside it: ${code}`)
  }
}

/** Sets access on the privately bound socket and links it into place; on any failure the server is closed. */
function placeOrClose (server: Server, socket: string, address: UnixAddress, before: PathState,
  access: Access): FileId {
  const where = formatAddress(address)
  try {
    setAccess(socket, access.mode, access.uid, access.gid)
  } catch (err) {
    server.close()
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    throw new NetErrors.LISTEN_OWNER(where, `cannot set mode/owner/group: ${code}`, { cause: err })
  }
  const placed = placeSocket(socket, address.path, before)
  if (placed.ok) return placed.id
  server.close()
  throw placed.inUse ? new NetErrors.LISTEN_IN_USE(where) : new NetErrors.LISTEN_PATH(where, placed.problem)
}
