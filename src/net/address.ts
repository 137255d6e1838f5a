// Socket addresses of the L4 tunnel, parsed once into a typed value: a Unix socket path, a TCP host and port, or a
// socket inherited from the service manager (systemd socket activation by name, or a bare fd number).
import { isIP, isIPv4 } from 'node:net'

export type Address =
  | { kind: 'unix', path: string }
  | { kind: 'tcp', host: string, port: number }
  | { kind: 'inherited', name?: string, fd?: number }

export type UnixAddress = Extract<Address, { kind: 'unix' }>
export type TcpAddress = Extract<Address, { kind: 'tcp' }>
export type InheritedAddress = Extract<Address, { kind: 'inherited' }>

export type Parsed<T> = { ok: true, value: T } | { ok: false, problem: string }

export interface ParseAddressOptions {
  /** Host for `:port` (e.g. 127.0.0.1 for forward listeners); without it `:port` is refused. */
  defaultHost?: string
  /** Accept port 0 (an ephemeral port, for listeners); refused by default. */
  allowPortZero?: boolean
}

/** Longest Unix socket path Linux accepts: sun_path is 108 bytes including the terminating NUL. */
export const UNIX_PATH_MAX = 107
/** systemd's FileDescriptorName limit. */
const FD_NAME_MAX = 255
const HOSTNAME_MAX = 253
const EXPECTED = 'expected unix:/path, /path, tcp://host:port, host:port, [v6]:port, :port, systemd:NAME or fd:N'

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem })

/** Parses an address string; never throws. */
export function parseAddress (input: unknown, opts: ParseAddressOptions = {}): Parsed<Address> {
  if (typeof input !== 'string') return bad('address must be a string')
  if (input === '') return bad(`address is empty; ${EXPECTED}`)
  if (input.trim() !== input) return bad('address has leading or trailing whitespace')
  if (input.startsWith('unix:')) return parseUnixPath(input.slice(5))
  if (input.startsWith('/')) return parseUnixPath(input)
  if (input.startsWith('systemd:')) return parseFdName(input.slice(8))
  if (input.startsWith('fd:')) return parseFdNumber(input.slice(3))
  if (input.startsWith('tcp://')) return parseHostPort(input.slice(6), opts)
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input)
  if (scheme !== null) return bad(`unsupported scheme '${scheme[1] ?? ''}'; ${EXPECTED}`)
  return parseHostPort(input, opts)
}

function parseUnixPath (path: string): Parsed<Address> {
  if (path === '') return bad('unix socket path is empty')
  if (path.startsWith('@')) return bad('abstract unix sockets are not supported (they have no file permissions)')
  if (!path.startsWith('/')) return bad(`unix socket path must be absolute: '${path}'`)
  if ([...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    return bad('unix socket path contains a control character')
  }
  if (path.endsWith('/') || /\/\.{0,2}(?:\/|$)/.test(path)) {
    return bad(`unix socket path must be normalized (no '.', '..', '//' or trailing '/'): '${path}'`)
  }
  const bytes = Buffer.byteLength(path)
  if (bytes > UNIX_PATH_MAX) return bad(`unix socket path is ${bytes} bytes; the limit is ${UNIX_PATH_MAX}`)
  return ok({ kind: 'unix', path })
}

function parseFdName (name: string): Parsed<Address> {
  if (name === '') return bad('systemd socket name is empty')
  if (name.length > FD_NAME_MAX) return bad(`systemd socket name is longer than ${FD_NAME_MAX} characters`)
  if (!/^[\x21-\x7e]+$/.test(name) || name.includes(':')) {
    return bad('systemd socket name must be printable ASCII without spaces or \':\'')
  }
  return ok({ kind: 'inherited', name })
}

function parseFdNumber (text: string): Parsed<Address> {
  if (!/^[0-9]+$/.test(text)) return bad(`fd must be a decimal number: '${text}'`)
  const fd = Number(text)
  if (fd < 3) return bad('fd must be 3 or more (0, 1 and 2 are stdio)')
  if (fd > 0x7fffffff) return bad('fd is out of range')
  return ok({ kind: 'inherited', fd })
}

function parseHostPort (text: string, opts: ParseAddressOptions): Parsed<Address> {
  const split = splitHostPort(text)
  if (!split.ok) return split
  const port = parsePort(split.value.port, opts.allowPortZero === true)
  if (!port.ok) return port
  let host = split.value.host
  if (host === '') {
    if (opts.defaultHost === undefined) return bad(`empty host in '${text}'`)
    host = opts.defaultHost
  }
  const checked = split.value.bracketed ? checkIPv6(host) : checkHost(host)
  if (!checked.ok) return checked
  return ok({ kind: 'tcp', host: checked.value, port: port.value })
}

function splitHostPort (text: string): Parsed<{ host: string, port: string, bracketed: boolean }> {
  if (text.startsWith('[')) {
    const end = text.indexOf(']')
    if (end < 0) return bad(`missing ']' in '${text}'`)
    if (text[end + 1] !== ':') return bad(`missing ':port' after ']' in '${text}'`)
    return ok({ host: text.slice(1, end), port: text.slice(end + 2), bracketed: true })
  }
  const colon = text.lastIndexOf(':')
  if (colon < 0) return bad(`missing ':port' in '${text}'; ${EXPECTED}`)
  const host = text.slice(0, colon)
  if (host.includes(':')) return bad(`IPv6 addresses must be in brackets, e.g. [::1]:443: '${text}'`)
  return ok({ host, port: text.slice(colon + 1), bracketed: false })
}

function parsePort (text: string, allowZero: boolean): Parsed<number> {
  if (text === '') return bad('port is empty')
  if (!/^[0-9]+$/.test(text)) return bad(`port must be a decimal number: '${text}'`)
  if (text.length > 1 && text.startsWith('0')) return bad(`port has a leading zero: '${text}'`)
  const port = Number(text)
  const min = allowZero ? 0 : 1
  if (port < min || port > 65535) return bad(`port ${text} is out of range (${min}-65535)`)
  return ok(port)
}

function checkIPv6 (host: string): Parsed<string> {
  return isIP(host) === 6 ? ok(host) : bad(`not an IPv6 address inside brackets: '${host}'`)
}

function checkHost (host: string): Parsed<string> {
  if (isIPv4(host)) return ok(host)
  if (host.length > HOSTNAME_MAX) return bad(`host name is longer than ${HOSTNAME_MAX} characters`)
  const labels = host.split('.')
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
  if (!labels.every((l) => label.test(l))) return bad(`invalid host name: '${host}'`)
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) return bad(`not a valid IPv4 address: '${host}'`)
  return ok(host)
}

/** The canonical text of an address; parseAddress(formatAddress(a)) gives `a` back. */
export function formatAddress (address: Address): string {
  switch (address.kind) {
    case 'unix': return `unix:${address.path}`
    case 'tcp':
      return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
    case 'inherited': return address.name !== undefined ? `systemd:${address.name}` : `fd:${address.fd ?? '?'}`
  }
}
