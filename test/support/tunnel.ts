// Starts real tunnels in-process (configured like a YAML `tunnels:` list, status listener on port 0) with every log
// line captured, plus echo targets and helpers to reach a tunnel's listener.
import { spawn } from 'node:child_process'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/observe/logger.js'
import { startServer, type Running } from '../../src/server.js'
import { LogCapture, type LogRecord } from './gateway.js'
import { metricValue } from './metrics.js'
import type { TestCert, TestPki } from './pki.js'

export interface TunnelsHandle {
  running: Running
  logs: LogRecord[]
  statusUrl: string
  /** The listening address of a tunnel, as formatted by the tunnel (`unix:/…`, `127.0.0.1:port`). */
  address: (name: string) => string
  withCode: (code: string) => LogRecord[]
  metric: (name: string, labels?: Record<string, string>) => Promise<number | undefined>
  close: () => Promise<void>
}

export async function startTunnels (
  tunnels: Array<Record<string, unknown>>, overrides: Record<string, unknown> = {}
): Promise<TunnelsHandle> {
  const base = { status_listen: '127.0.0.1:0', log_level: 'debug', shutdown_timeout: 2000 }
  const config = loadConfig({ env: {}, overrides: { ...base, tunnels, ...overrides } })
  const capture = new LogCapture()
  const running = await startServer(config, createLogger(config.common, capture))
  return {
    running,
    logs: capture.records,
    statusUrl: running.statusUrl ?? '',
    address: (name) => running.addresses[name] ?? '',
    withCode: (code) => capture.records.filter((r) => r.code === code),
    metric: async (name, labels) => await metricValue(running.statusUrl ?? '', name, labels),
    close: async () => await running.stop()
  }
}

/** Options to connect to an address a tunnel reports (`unix:/path` or `host:port`). */
export function connectTo (address: string): Socket {
  if (address.startsWith('unix:')) return connect({ path: address.slice(5), allowHalfOpen: true })
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '')
  return connect({ host, port: Number(address.slice(colon + 1)), allowHalfOpen: true })
}

export interface EchoServer {
  server: Server
  /** The TCP port (0 for a Unix socket). */
  port: number
  /** `127.0.0.1:port` or `unix:/path`: what a reverse tunnel's `connect` takes. */
  address: string
  /** Connections accepted and bytes received so far (what reached the target). */
  accepted: () => number
  received: () => number
  close: () => Promise<void>
}

/**
 * An echo server on loopback TCP, or on the Unix socket `path` (every byte back, half-close answered with end after
 * the echo); `onSocket` replaces the echo with another behaviour. It counts what reaches it.
 */
export async function echoServer (
  path?: string, onSocket: (s: Socket) => void = (s) => s.pipe(s)
): Promise<EchoServer> {
  let accepted = 0
  let received = 0
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (s) => {
    accepted++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    s.on('data', (d: Buffer) => { received += d.length })
    onSocket(s)
  })
  if (path !== undefined) await new Promise<void>((resolve) => server.listen(path, resolve))
  else await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = path === undefined ? (server.address() as { port: number }).port : 0
  return {
    server,
    port,
    address: path === undefined ? `127.0.0.1:${port}` : `unix:${path}`,
    accepted: () => accepted,
    received: () => received,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** A temporary folder for Unix sockets (short path: sun_path holds 107 bytes). */
export async function socketDir (): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tun-'))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A reverse tunnel (TLS on loopback port 0) with the server certificate of the test PKI. */
export function reverseTunnel (
  pki: TestPki, connect: string, extra: Record<string, unknown> = {}
): Record<string, unknown> {
  return {
    name: 'reverse',
    mode: 'reverse',
    listen: '127.0.0.1:0',
    connect,
    cert: pki.server.chainPath,
    key: pki.server.keyPath,
    ca: pki.trust.path,
    allow_all: true,
    ...extra
  }
}

/** A forward tunnel presenting `client` to the remote at `connect`. */
export function forwardTunnel (
  pki: TestPki, client: TestCert, listen: string, connect: string, extra: Record<string, unknown> = {}
): Record<string, unknown> {
  return {
    name: 'forward',
    mode: 'forward',
    listen,
    connect,
    cert: client.chainPath,
    key: client.keyPath,
    ca: pki.root.certPath,
    server_name: 'localhost',
    ...extra
  }
}

/** Connects to a tunnel's listener; resolves once connected (rejects on an error first). */
export async function connected (address: string): Promise<Socket> {
  const s = connectTo(address)
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve)
    s.once('error', reject)
  })
  return s
}

/** Replaces a file atomically (write beside it, then rename), as a certificate rotation tool does. */
export async function replaceFile (path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, text, { mode: 0o600 })
  await rename(temp, path)
}

/**
 * A TCP address where connections hang (a blackhole): a listener with a backlog of 0 that never accepts, its one
 * queue slot taken, so the kernel drops every further SYN and connect() waits until the caller's deadline.
 */
export async function blackhole (): Promise<{ address: string, close: () => Promise<void> }> {
  const script = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\n' +
    'print(s.getsockname()[1],flush=True)\nsys.stdin.read()'
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
  })
  const filler = connect({ host: '127.0.0.1', port })
  filler.on('error', () => {})
  await new Promise((resolve) => filler.once('connect', resolve))
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      filler.destroy()
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.stdin.end()
      await exited
    }
  }
}

/** Starts an mTLS connection to a reverse tunnel's `host:port`, presenting `cert` (allowHalfOpen). */
export function mtlsTo (address: string, pki: TestPki, cert: TestCert, extra: Record<string, unknown> = {}): TLSSocket {
  const colon = address.lastIndexOf(':')
  const options = {
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    servername: 'localhost',
    ca: pki.root.certPem,
    cert: cert.chainPem,
    key: cert.keyPem,
    allowHalfOpen: true,
    ...extra
  }
  return tlsConnect(options)
}

/** An mTLS connection to a reverse tunnel, resolved once its handshake is done. */
export async function mtlsConnected (
  address: string, pki: TestPki, cert: TestCert, extra: Record<string, unknown> = {}
): Promise<TLSSocket> {
  const s = mtlsTo(address, pki, cert, extra)
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve)
    s.once('error', reject)
  })
  return s
}
