// One device request over a fresh mTLS connection, as HTTP/2 (Node's http2 client, ALPN `h2` only) or as HTTP/1.1
// (raw bytes, ALPN `http/1.1`), with one answer shape, so a test runs the same decision matrix over both protocols.
import { connect as h2connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import type { TestCert, TestPki } from './pki.js'

export type Proto = 'h1' | 'h2'

export interface DeviceCall {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** TLS server name (default `localhost`). */
  servername?: string
  /** Host header / `:authority` (default `localhost`); `null` sends none on HTTP/1.1. */
  authority?: string | null
  /** Client certificate (none when undefined). */
  device?: TestCert | undefined
}

export interface DeviceAnswer {
  /** 0 when the connection failed before any answer. */
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The protocol ALPN selected ('' when none, or the handshake failed). */
  alpn: string
  /** Why no answer came (connection error code, stream reset code). */
  error?: string
}

const tlsOptions = (pki: TestPki, c: DeviceCall): Record<string, unknown> => ({
  ca: pki.root.certPem,
  servername: c.servername ?? 'localhost',
  ...(c.device !== undefined ? { cert: c.device.chainPem, key: c.device.keyPem } : {})
})

/** Opens an HTTP/2 session offering only `h2` over ALPN; rejects when the connection or handshake fails. */
export async function openH2 (port: number, pki: TestPki, c: Omit<DeviceCall, 'path'> = {}): Promise<ClientHttp2Session> {
  const session = h2connect(`https://127.0.0.1:${port}`, { ...tlsOptions(pki, { path: '/', ...c }), ALPNProtocols: ['h2'] })
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve())
    session.once('error', reject)
    session.once('close', () => reject(new Error('closed')))
  })
  return session
}

/** One request on an open HTTP/2 session. */
export async function h2Request (session: ClientHttp2Session, c: DeviceCall): Promise<DeviceAnswer> {
  const method = c.method ?? 'GET'
  const head: OutgoingHttpHeaders = { ':method': method, ...(method === 'CONNECT' ? {} : { ':path': c.path, ':scheme': 'https' }) }
  if (c.authority !== null) head[':authority'] = c.authority ?? 'localhost'
  const stream = session.request({ ...head, ...c.headers }, { endStream: c.body === undefined })
  if (c.body !== undefined) stream.end(c.body)
  return await new Promise((resolve) => {
    let headers: DeviceAnswer['headers'] = {}
    let status = 0
    let body = ''
    stream.on('response', (h) => { headers = h; status = Number(h[':status']) })
    stream.setEncoding('utf8')
    stream.on('data', (d: string) => { body += d })
    stream.on('error', () => {})
    stream.on('close', () => {
      const reset = stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR
      resolve({ status, headers, body, alpn: 'h2', ...(status === 0 || reset ? { error: `rst ${stream.rstCode ?? '?'}` } : {}) })
    })
  })
}

/** One request over a fresh HTTP/2 connection (ALPN `h2` only). */
export async function h2Exchange (port: number, pki: TestPki, c: DeviceCall): Promise<DeviceAnswer> {
  let session: ClientHttp2Session
  try {
    session = await openH2(port, pki, c)
  } catch (err) {
    return { status: 0, headers: {}, body: '', alpn: '', error: (err as NodeJS.ErrnoException).code ?? (err as Error).message }
  }
  try {
    return await h2Request(session, c)
  } finally {
    session.destroy()
  }
}

function parseH1 (text: string, alpn: string): DeviceAnswer {
  const end = text.indexOf('\r\n\r\n')
  const head = end < 0 ? text : text.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0)
  return { status, headers, body: end < 0 ? '' : text.slice(end + 4), alpn, ...(status === 0 ? { error: 'closed' } : {}) }
}

/** One request over a fresh HTTP/1.1 connection (ALPN `http/1.1`), `Connection: close`, read until the close. */
export async function h1Exchange (port: number, pki: TestPki, c: DeviceCall): Promise<DeviceAnswer> {
  const body = c.body === undefined ? undefined : Buffer.from(c.body)
  const lines = [`${c.method ?? 'GET'} ${c.path} HTTP/1.1`]
  if (c.authority !== null) lines.push(`Host: ${c.authority ?? 'localhost'}`)
  for (const [k, v] of Object.entries(c.headers ?? {})) lines.push(`${k}: ${v}`)
  if (body !== undefined) lines.push(`Content-Length: ${body.length}`)
  lines.push('Connection: close', '', '')
  return await new Promise((resolve) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ...tlsOptions(pki, c), ALPNProtocols: ['http/1.1'] })
    const chunks: Buffer[] = []
    let alpn = ''
    let failure: string | undefined
    socket.setTimeout(15_000, () => socket.destroy(new Error('timeout')))
    socket.once('secureConnect', () => {
      alpn = socket.alpnProtocol === false ? '' : socket.alpnProtocol ?? ''
      socket.write(lines.join('\r\n'))
      if (body !== undefined) socket.write(body)
    })
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (err: NodeJS.ErrnoException) => { failure = err.code ?? err.message })
    socket.once('close', () => {
      const answer = parseH1(Buffer.concat(chunks).toString('latin1'), alpn)
      resolve(answer.status === 0 && failure !== undefined ? { ...answer, error: failure } : answer)
    })
  })
}

export async function exchange (proto: Proto, port: number, pki: TestPki, c: DeviceCall): Promise<DeviceAnswer> {
  return proto === 'h2' ? await h2Exchange(port, pki, c) : await h1Exchange(port, pki, c)
}

/** The Mender-shaped error body of an answer (undefined when the body is not one). */
export function menderError (a: DeviceAnswer): { error: string, request_id: string } | undefined {
  try {
    const parsed = JSON.parse(a.body) as Record<string, unknown>
    const keys = Object.keys(parsed).sort().join(',')
    return keys === 'error,request_id' ? parsed as { error: string, request_id: string } : undefined
  } catch {
    return undefined
  }
}
