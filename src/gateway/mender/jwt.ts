// Reads (never verifies) the JWTs Mender issues: the ambassador only needs `exp` to schedule refresh, and must tell
// a token from anything else a login might answer with 200 (an HTML page from a proxy, a JSON error).
export interface JwtClaims { exp?: number, iat?: number, [claim: string]: unknown }

const BASE64URL = /^[A-Za-z0-9_-]+$/

/** A base64url JWT part holding a JSON object; undefined for anything else. */
export function decodeJwtPart (part: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(part)) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

export function decodeJwtClaims (jwt: string): JwtClaims | undefined {
  const parts = jwt.split('.')
  return parts.length === 3 && parts[1] !== undefined ? decodeJwtPart(parts[1]) : undefined
}

/**
 * The claims of a well-formed compact JWT — three base64url parts, header and payload JSON objects, `exp` (when
 * present) a number, a non-empty signature part — else undefined.
 */
export function wellFormedJwtClaims (jwt: string): JwtClaims | undefined {
  const [header, payload, signature, ...more] = jwt.split('.')
  if (header === undefined || payload === undefined || signature === undefined || more.length > 0) return undefined
  if (decodeJwtPart(header) === undefined || !BASE64URL.test(signature)) return undefined
  const claims = decodeJwtPart(payload)
  const exp = claims?.exp
  return exp === undefined || (typeof exp === 'number' && Number.isFinite(exp)) ? claims : undefined
}
