// A test device: an undici agent presenting a client certificate, signed auth requests built like the real
// client's, and a raw TLS probe for handshake refusals.
import { connect } from 'node:tls'
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto'
import { Agent, request, type Dispatcher } from 'undici'
import type { TestCert, TestPki } from './pki.js'

export const AUTH_URL_PATH = '/api/devices/v1/authentication/auth_requests'

export function deviceAgent (pki: TestPki, cert?: TestCert, extra: Record<string, unknown> = {}): Agent {
  return new Agent({
    connect: { ca: pki.root.certPem, servername: 'localhost', ...(cert !== undefined ? { cert: cert.chainPem, key: cert.keyPem } : {}), ...extra }
  })
}

export function signBody (body: Buffer, keyPem: string): string {
  const key: KeyObject = createPrivateKey(keyPem)
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  return sign(algorithm, body, { key, dsaEncoding: 'der' }).toString('base64')
}

export interface AuthRequestParts { body: Buffer, headers: Record<string, string> }

/** A signed auth request: `id_data` holds `identity`, `pubkey` is the SPKI PEM of `keyPem`, signed with it. */
export function authRequest (
  keyPem: string, identity: Record<string, unknown>, extra: Record<string, unknown> = {}
): AuthRequestParts {
  const pubkey = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString()
  const body = Buffer.from(JSON.stringify({ id_data: JSON.stringify(identity), pubkey, ...extra }))
  return { body, headers: { 'content-type': 'application/json', 'x-men-signature': signBody(body, keyPem) } }
}

export interface Answer { status: number, headers: Record<string, string | string[] | undefined>, text: string }

export async function send (
  dispatcher: Dispatcher, url: string,
  opts: { method?: string, body?: Buffer | string, headers?: Record<string, string> } = {}
): Promise<Answer> {
  const res = await request(url, { dispatcher, method: (opts.method ?? 'GET') as Dispatcher.HttpMethod, body: opts.body, headers: opts.headers })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

export async function postAuth (dispatcher: Dispatcher, baseUrl: string, req: AuthRequestParts): Promise<Answer> {
  return await send(dispatcher, baseUrl + AUTH_URL_PATH, { method: 'POST', body: req.body, headers: req.headers })
}

/** Connects, sends one HTTP request, resolves with the response text or the error that ended the connection. */
export async function tlsProbe (
  port: number, opts: Record<string, unknown>
): Promise<{ response?: string, error?: string }> {
  return await new Promise((resolve) => {
    let data = ''
    const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ...opts })
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
    socket.on('secureConnect', () => socket.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
    socket.on('data', (d: Buffer) => { data += d.toString() })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }))
    socket.on('close', () => resolve(data !== '' ? { response: data } : { error: 'closed' }))
  })
}

/** Waits until `predicate` holds (log lines are written asynchronously). */
export async function eventuallyAsync (predicate: () => Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await predicate()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return await predicate()
}

/** Waits until `predicate` holds (log lines are written asynchronously). */
export async function eventually (predicate: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (predicate()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return predicate()
}
