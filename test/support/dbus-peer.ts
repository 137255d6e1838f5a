// A minimal D-Bus client over a Unix socket, written against the wire protocol with node:net only: EXTERNAL
// authentication, Hello, RequestName, method replies and errors, signals. It stands in for a test service that
// registers a well-known name on a bus (through a tunnel) and answers `Echo(s) → s`.
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'

/** A body argument: a string (`s`) or a uint32 (`u`). */
export type Arg = string | number

export interface DbusMessage {
  type: number
  serial: number
  path?: string
  iface?: string
  member?: string
  errorName?: string
  replySerial?: number
  destination?: string
  sender?: string
  signature?: string
  /** The body's arguments, when each is a string or a uint32 (the only bodies this peer reads). */
  args: Arg[]
}

const CALL = 1
const RETURN = 2
const ERROR = 3
const SIGNAL = 4
const FIELDS = {
  path: [1, 'o'],
  iface: [2, 's'],
  member: [3, 's'],
  errorName: [4, 's'],
  replySerial: [5, 'u'],
  destination: [6, 's'],
  sender: [7, 's'],
  signature: [8, 'g']
} as const
const NAMES = Object.fromEntries(Object.entries(FIELDS).map(([k, [code]]) => [code, k])) as
  Record<number, keyof typeof FIELDS>

/** Little-endian marshalling of the few types this peer sends. */
class Writer {
  private readonly parts: number[] = []
  get length (): number { return this.parts.length }
  align (n: number): void { while (this.parts.length % n !== 0) this.parts.push(0) }
  byte (b: number): void { this.parts.push(b & 0xff) }
  u32 (v: number): void { this.align(4); for (let i = 0; i < 4; i++) this.byte(v >>> (8 * i)) }
  setU32 (at: number, v: number): void { for (let i = 0; i < 4; i++) this.parts[at + i] = (v >>> (8 * i)) & 0xff }
  str (s: string): void { const b = Buffer.from(s); this.u32(b.length); b.forEach((x) => this.byte(x)); this.byte(0) }
  sig (s: string): void { const b = Buffer.from(s); this.byte(b.length); b.forEach((x) => this.byte(x)); this.byte(0) }
  value (type: string, v: string | number): void {
    if (type === 'u') this.u32(v as number)
    else if (type === 'g') this.sig(v as string)
    else this.str(String(v))
  }

  buffer (): Buffer { return Buffer.from(this.parts) }
}

class Reader {
  pos = 0
  constructor (readonly buf: Buffer) {}
  align (n: number): void { this.pos = Math.ceil(this.pos / n) * n }
  byte (): number { return this.buf[this.pos++] ?? 0 }
  u32 (): number { this.align(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v }
  str (): string { const n = this.u32(); const s = this.buf.toString('utf8', this.pos, this.pos + n); this.pos += n + 1; return s }
  sig (): string { const n = this.byte(); const s = this.buf.toString('utf8', this.pos, this.pos + n); this.pos += n + 1; return s }
  value (type: string): string | number {
    if (type === 'u') return this.u32()
    if (type === 'g') return this.sig()
    if (type === 's' || type === 'o') return this.str()
    throw new Error(`dbus-peer: unsupported header type ${type}`)
  }
}

type Fields = Partial<Omit<DbusMessage, 'type' | 'serial' | 'args'>>

const typeOf = (a: Arg): string => typeof a === 'number' ? 'u' : 's'

/** One message: header (little-endian, version 1), string and uint32 arguments as its body. */
export function encodeMessage (type: number, serial: number, fields: Fields, args: Arg[] = []): Buffer {
  const body = new Writer()
  for (const a of args) body.value(typeOf(a), a)
  const all: Fields = args.length > 0 ? { ...fields, signature: args.map(typeOf).join('') } : fields
  const w = new Writer()
  for (const b of ['l'.charCodeAt(0), type, 0, 1]) w.byte(b)
  w.u32(body.length)
  w.u32(serial)
  w.u32(0)
  const start = w.length
  for (const [name, [code, t]] of Object.entries(FIELDS)) {
    const v = all[name as keyof Fields]
    if (v === undefined) continue
    w.align(8)
    w.byte(code)
    w.sig(t)
    w.value(t, v)
  }
  w.setU32(12, w.length - start)
  w.align(8)
  return Buffer.concat([w.buffer(), body.buffer()])
}

/** The length of the first whole message in `buf`, or undefined when more bytes are needed. */
function messageLength (buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined
  const fieldsLength = buf.readUInt32LE(12)
  const total = Math.ceil((16 + fieldsLength) / 8) * 8 + buf.readUInt32LE(4)
  return buf.length >= total ? total : undefined
}

export function decodeMessage (buf: Buffer): DbusMessage {
  if (buf[0] !== 'l'.charCodeAt(0)) throw new Error('dbus-peer: only little-endian messages are read')
  const r = new Reader(buf)
  r.pos = 12
  const end = 16 + r.u32()
  const msg: DbusMessage = { type: buf[1] ?? 0, serial: buf.readUInt32LE(8), args: [] }
  while (r.pos < end) {
    r.align(8)
    const code = r.byte()
    const value = r.value(r.sig())
    const name = NAMES[code]
    if (name !== undefined) (msg as unknown as Record<string, unknown>)[name] = value
  }
  r.align(8)
  if (msg.signature !== undefined && /^[su]+$/.test(msg.signature)) {
    for (const t of msg.signature) msg.args.push(r.value(t))
  }
  return msg
}

export interface DbusPeer {
  uniqueName: string
  socket: Socket
  /** Calls a method; resolves with the reply (an error reply rejects). */
  call: (fields: Fields, args?: Arg[]) => Promise<DbusMessage>
  /** Emits a signal. */
  signal: (path: string, iface: string, member: string, args?: Arg[]) => void
  /** Answers METHOD_CALLs: return the string arguments of the reply, or undefined for UnknownMethod. */
  serve: (handler: (msg: DbusMessage) => Arg[] | undefined) => void
  /** Every message received, in order. */
  received: DbusMessage[]
  close: () => void
}

/** The AUTH exchange: EXTERNAL with this process's uid (hex of its decimal digits), then BEGIN. */
async function authenticate (socket: Socket): Promise<Buffer> {
  const uid = process.getuid?.() ?? 0
  socket.write(Buffer.concat([Buffer.from([0]), Buffer.from(`AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\n`)]))
  let buf = Buffer.alloc(0)
  while (!buf.includes('\r\n')) {
    const [chunk] = await once(socket, 'data') as [Buffer]
    buf = Buffer.concat([buf, chunk])
  }
  const line = buf.subarray(0, buf.indexOf('\r\n')).toString()
  if (!line.startsWith('OK ')) throw new Error(`dbus-peer: authentication refused: ${line}`)
  socket.write('BEGIN\r\n')
  return buf.subarray(buf.indexOf('\r\n') + 2)
}

/** Connects to a bus at a Unix socket path, authenticates and says Hello. */
export async function connectPeer (path: string): Promise<DbusPeer> {
  const socket = connect({ path })
  socket.on('error', () => {})
  await once(socket, 'connect')
  let buf = await authenticate(socket)
  let serial = 0
  const pending = new Map<number, { resolve: (m: DbusMessage) => void, reject: (e: Error) => void }>()
  const received: DbusMessage[] = []
  let handler: ((msg: DbusMessage) => Arg[] | undefined) | undefined
  const send = (type: number, fields: Fields, args: Arg[] = []): number => {
    socket.write(encodeMessage(type, ++serial, fields, args))
    return serial
  }
  const dispatch = (msg: DbusMessage): void => {
    received.push(msg)
    const waiter = msg.replySerial === undefined ? undefined : pending.get(msg.replySerial)
    if (waiter !== undefined && (msg.type === RETURN || msg.type === ERROR)) {
      pending.delete(msg.replySerial ?? 0)
      if (msg.type === RETURN) waiter.resolve(msg)
      else waiter.reject(new Error(`${msg.errorName ?? 'error'}: ${msg.args.join(' ')}`))
    } else if (msg.type === CALL && msg.sender !== undefined) {
      const answer = handler?.(msg)
      if (answer !== undefined) send(RETURN, { replySerial: msg.serial, destination: msg.sender }, answer)
      else send(ERROR, { replySerial: msg.serial, destination: msg.sender, errorName: 'org.freedesktop.DBus.Error.UnknownMethod' }, [`no method ${msg.member ?? ''}`])
    }
  }
  const feed = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk])
    for (let n = messageLength(buf); n !== undefined; n = messageLength(buf)) {
      dispatch(decodeMessage(buf.subarray(0, n)))
      buf = buf.subarray(n)
    }
  }
  socket.on('data', feed)
  socket.on('close', () => { for (const w of pending.values()) w.reject(new Error('dbus-peer: connection closed')) })
  const call: DbusPeer['call'] = async (fields, args = []) => await new Promise((resolve, reject) => {
    pending.set(send(CALL, fields, args), { resolve, reject })
  })
  if (buf.length > 0) { const rest = buf; buf = Buffer.alloc(0); feed(rest) }
  const hello = await call({ path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus', member: 'Hello', destination: 'org.freedesktop.DBus' })
  return {
    uniqueName: String(hello.args[0] ?? ''),
    socket,
    call,
    signal: (path, iface, member, args = []) => { send(SIGNAL, { path, iface, member }, args) },
    serve: (h) => { handler = h },
    received,
    close: () => { socket.destroy() }
  }
}

/** Requests a well-known name (DO_NOT_QUEUE); resolves with RequestName's reply code (1 = primary owner). */
export async function requestName (peer: DbusPeer, name: string): Promise<number> {
  const reply = await peer.call({ path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus', member: 'RequestName', destination: 'org.freedesktop.DBus' }, [name, 4])
  return Number(reply.args[0])
}
