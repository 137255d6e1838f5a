// Reads (never verifies) the claims of a JWT issued by Mender: the ambassador only needs `exp` to schedule refresh.
export interface JwtClaims { exp?: number, iat?: number, [claim: string]: unknown }

export function decodeJwtClaims (jwt: string): JwtClaims | undefined {
  const parts = jwt.split('.')
  if (parts.length !== 3 || parts[1] === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims as JwtClaims : undefined
  } catch {
    return undefined
  }
}
