// Reads (never verifies) the claims of a JWT issued by Mender: the ambassador only needs `exp` to schedule refresh.
// The part decoder is shared with the simulator, which verifies the tokens it issues.
export interface JwtClaims { exp?: number, iat?: number, [claim: string]: unknown }

/** A base64url JWT part holding a JSON object; undefined for anything else. */
export function decodeJwtPart (part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined
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
