// RS256 JSON Web Tokens with node:crypto only: signing with the simulator's private key and strict verification
// (alg pinned to RS256, signature, expiry).
import { generateKeyPair, sign, verify, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { goUnmarshal } from './go-json.js'

export type JwtClaims = Record<string, unknown>

export interface JwtKeys { privateKey: KeyObject, publicKey: KeyObject }

export type JwtCheck =
  | { ok: true, claims: JwtClaims }
  | { ok: false, reason: 'malformed' | 'signature' }
  | { ok: false, reason: 'expired', claims: JwtClaims }

const generate = promisify(generateKeyPair)

/** A fresh RSA-2048 key pair for one simulator instance. */
export async function generateJwtKeys (): Promise<JwtKeys> {
  return await generate('rsa', { modulusLength: 2048 })
}

/** A base64url JWT part holding a JSON object (decoded as Go's JWT library does, with encoding/json). */
function decodeJwtPart (part: string): JwtClaims | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined
  const decoded = goUnmarshal(Buffer.from(part, 'base64url'))
  const v = decoded.ok ? decoded.value : undefined
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as JwtClaims : undefined
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Signs `claims` as a compact RS256 JWT. */
export function signJwt (claims: JwtClaims, keys: JwtKeys): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims)}`
  const signature = sign('sha256', Buffer.from(input), keys.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

/** Verifies a compact JWT: RS256 only, valid signature, not expired at `nowSec` (exp is optional). */
export function verifyJwt (token: string, keys: JwtKeys, nowSec = Math.floor(Date.now() / 1000)): JwtCheck {
  const parts = token.split('.')
  if (parts.length !== 3) return { ok: false, reason: 'malformed' }
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJwtPart(h)
  const claims = decodeJwtPart(p)
  if (header === undefined || claims === undefined || !/^[A-Za-z0-9_-]+$/.test(s)) {
    return { ok: false, reason: 'malformed' }
  }
  if (header.alg !== 'RS256') return { ok: false, reason: 'signature' }
  const valid = verify('sha256', Buffer.from(`${h}.${p}`), keys.publicKey, Buffer.from(s, 'base64url'))
  if (!valid) return { ok: false, reason: 'signature' }
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || nowSec >= claims.exp)) {
    return { ok: false, reason: 'expired', claims }
  }
  return { ok: true, claims }
}

/** Decodes the claims of a JWT without verifying it (for tests and inspection). */
export function decodeJwtClaims (token: string): JwtClaims | undefined {
  const part = token.split('.')[1]
  return part === undefined ? undefined : decodeJwtPart(part)
}
