// Helpers for tests that talk to the Mender simulator over real sockets: device keys of every type, signed auth
// requests, login, preauthorization, a small undici request wrapper, a TLS certificate and OpenAPI operations.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Agent, request } from 'undici'
import { parse } from 'yaml'

export type KeyKind = 'rsa' | 'ec' | 'ed25519'

export interface DeviceKey { kind: KeyKind, privateKey: KeyObject, publicKey: KeyObject, pem: string }

export const USER = { email: 'mtls@example.com', password: 'correcthorsebatterystaple' }

/** A fresh device key pair (RSA 2048, EC P-256 or Ed25519). */
export function deviceKey (kind: KeyKind = 'ec'): DeviceKey {
  const pair = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519')
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return { kind, privateKey: pair.privateKey, publicKey: pair.publicKey, pem }
}

/** Base64 X-MEN-Signature of `body` with the key's algorithm. */
export function signBody (body: Buffer, key: DeviceKey): string {
  if (key.kind === 'ed25519') return sign(null, body, key.privateKey).toString('base64')
  if (key.kind === 'ec') return sign('sha256', body, { key: key.privateKey, dsaEncoding: 'der' }).toString('base64')
  return sign('sha256', body, key.privateKey).toString('base64')
}

export interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  text: string
  json: () => any
}

/** A simulator base URL, or a URL with the undici dispatcher to reach it (e.g. an Agent trusting its CA). */
export type Target = string | { url: string, dispatcher: Agent }

export interface ReqOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer | AsyncIterable<Buffer>
  dispatcher?: Agent
}

/** One request over a real socket; the whole answer is read. */
export async function http (target: Target, path: string, opts: ReqOptions = {}): Promise<Res> {
  const base = typeof target === 'string' ? target : target.url
  const dispatcher = opts.dispatcher ?? (typeof target === 'string' ? undefined : target.dispatcher)
  const res = await request(`${base}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: opts.headers,
    body: opts.body as string | Buffer | undefined,
    ...(dispatcher !== undefined ? { dispatcher } : {})
  })
  const body = Buffer.from(await res.body.arrayBuffer())
  const text = body.toString('utf8')
  return { status: res.statusCode, headers: res.headers, body, text, json: () => JSON.parse(text) }
}

export function basic (email: string, password: string): string {
  return `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`
}

/** Logs in (default user) and returns the bare JWT; throws unless 200. */
export async function login (base: Target, email = USER.email, password = USER.password): Promise<string> {
  const res = await http(base, '/api/management/v1/useradm/auth/login', {
    method: 'POST', headers: { authorization: basic(email, password) }
  })
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`)
  return res.text
}

export async function preauth (base: Target, token: string, identity: Record<string, unknown>, pem: string,
  force?: boolean): Promise<Res> {
  const payload: Record<string, unknown> = { identity_data: identity, pubkey: pem }
  if (force !== undefined) payload.force = force
  return await http(base, '/api/management/v2/devauth/devices', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload)
  })
}

export interface AuthOptions {
  tenantToken?: string
  /** Sign with this key instead of the request key. */
  signer?: DeviceKey
  headers?: Record<string, string>
}

/** The raw bytes of an auth request body. */
export function authBody (identity: Record<string, unknown>, pem: string, tenantToken?: string): Buffer {
  const payload: Record<string, unknown> = { id_data: JSON.stringify(identity), pubkey: pem }
  if (tenantToken !== undefined) payload.tenant_token = tenantToken
  return Buffer.from(JSON.stringify(payload))
}

/** A correctly signed device auth request for (identity, key). */
export async function authRequest (base: Target, identity: Record<string, unknown>, key: DeviceKey,
  opts: AuthOptions = {}): Promise<Res> {
  const body = authBody(identity, key.pem, opts.tenantToken)
  return await http(base, '/api/devices/v1/authentication/auth_requests', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-men-signature': signBody(body, opts.signer ?? key), ...opts.headers },
    body
  })
}

/** Preauthorizes (identity, key) and authenticates: the device JWT. */
export async function acceptedDevice (
  base: Target, identity: Record<string, unknown>, key: DeviceKey
): Promise<string> {
  const token = await login(base)
  const pre = await preauth(base, token, identity, key.pem)
  if (pre.status !== 201) throw new Error(`preauth failed: ${pre.status}`)
  const res = await authRequest(base, identity, key)
  if (res.status !== 200) throw new Error(`auth failed: ${res.status} ${res.text}`)
  return res.text
}

export function jwtClaims (token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

/** A throwaway self-signed ECDSA P-256 server certificate for localhost / 127.0.0.1 (PEM strings). */
export async function selfSignedTls (): Promise<{ cert: string, key: string }> {
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  const { webcrypto } = await import('node:crypto')
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=localhost',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])]
  }, webcrypto as unknown as Crypto)
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`
  return { cert: cert.toString('pem'), key }
}

type SpecNode = Record<string, any>
const specDocs = new Map<string, SpecNode>()
const loadSpec = (file: string): SpecNode => {
  if (!specDocs.has(file)) specDocs.set(file, parse(readFileSync(file, 'utf8')) as SpecNode)
  return specDocs.get(file)!
}

/** Deep copy of `node` with every $ref (local or to a sibling file) replaced by its target. */
function deref (node: unknown, file: string): any {
  if (Array.isArray(node)) return node.map((n) => deref(n, file))
  if (node === null || typeof node !== 'object') return node
  const ref = (node as SpecNode).$ref
  if (typeof ref !== 'string') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, file)]))
  const [path = '', pointer = ''] = ref.split('#')
  const target = path === '' ? file : resolve(dirname(file), path)
  const keys = pointer.split('/').filter(Boolean).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
  return deref(keys.reduce((n: SpecNode, k) => n[k], loadSpec(target)), target)
}

/** One operation of an OpenAPI YAML file with every $ref resolved. */
export function openApiOperation (file: string, path: string, method: string): SpecNode {
  return deref(loadSpec(file).paths[path][method], file)
}
