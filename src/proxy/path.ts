// Detects spellings of the auth-request path that a router or Mender might treat as the auth path although
// they miss the interceptor's exact route (percent-encoding, duplicate slashes, dot segments, case, trailing /).
import { AUTH_PATH } from '../device-auth/interceptor.js'

const TARGET = AUTH_PATH.toLowerCase()

export function normalisePath (url: string): string | undefined {
  const raw = url.split('?', 1)[0] ?? ''
  let decoded: string
  try {
    decoded = decodeURIComponent(raw.replaceAll('\\', '/'))
  } catch {
    return undefined
  }
  const out: string[] = []
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return '/' + out.join('/').toLowerCase()
}

/** True for any path that normalises to the auth path (the exact spelling never reaches this check). */
export function isAuthPathAlias (url: string): boolean {
  const n = normalisePath(url)
  return n === undefined || n === TARGET
}
