// Request-target policy (fails closed): only canonical origin-form paths are forwarded. A target is read once, by
// this module, for HTTP requests and websocket upgrades alike; the upstream URL is always the configured backend
// joined with the canonical path, never anything the target names.
import { AUTH_PATH } from '../mender/paths.js'
import { goFoldUpper } from '../mender/go-fold.js'

export type TargetRefusal = 'BAD_TARGET' | 'AUTH_PATH_ALIAS' | 'MISDIRECTED'

export type Target =
  | { ok: true, path: string, query: string, /** host named by an absolute-form target */ authority?: string }
  | { ok: false, refusal: TargetRefusal, detail: string }

// RFC 3986 pchar without ';' (a path parameter delimiter some servers strip), and '%' handled apart
const PATH_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/
const UNRESERVED = /^[A-Za-z0-9\-._~]$/
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/

const refuse = (refusal: TargetRefusal, detail: string): Target => ({ ok: false, refusal, detail })

/** Why a percent-decoded byte may not appear encoded ('' when it may). */
function encodedProblem (byte: number): string {
  const c = String.fromCharCode(byte)
  if (UNRESERVED.test(c)) return 'percent-encoded unreserved character'
  if (byte <= 0x20 || byte === 0x7f) return 'encoded control or space character'
  if (c === '/' || c === '\\' || c === ';') return 'encoded separator'
  return ''
}

/** A segment of allowed characters only, nothing percent-encoded: it reads as written. */
const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,=:@]*$/

/** A segment as a lenient server decodes it (non-ASCII as one placeholder), or the problem of its characters. */
function decodeSegment (seg: string): { decoded: string } | { problem: string } {
  let decoded = ''
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string
    if (c === '%') {
      const hex = seg.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { problem: 'malformed percent-encoding' }
      const byte = parseInt(hex, 16)
      const problem = encodedProblem(byte)
      if (problem !== '') return { problem }
      decoded += byte < 0x80 ? String.fromCharCode(byte) : '\u0080'
      i += 2
    } else if (PATH_CHAR.test(c)) {
      decoded += c
    } else {
      return { problem: `character ${JSON.stringify(c)} not allowed` }
    }
  }
  return { decoded }
}

/** The problem of one path segment ('' when canonical); `last` allows the empty segment of a trailing slash. */
function segmentProblem (seg: string, last: boolean): string {
  if (seg === '') return last ? '' : 'empty segment'
  // the common case in one test: nothing encoded, every character allowed
  const read = PLAIN_SEGMENT.test(seg) ? { decoded: seg } : decodeSegment(seg)
  if ('problem' in read) return read.problem
  if (read.decoded === '.' || read.decoded === '..') return 'dot segment'
  if (read.decoded.endsWith('.')) return 'segment ending in a dot'
  return ''
}

/**
 * True when a refused path would read as the auth path to a lenient parser (decoded, parameters and trailing dots,
 * spaces or NULs dropped, dot segments resolved, case folded): such a target gets the auth-alias refusal.
 */
function looksLikeAuthPath (path: string): boolean {
  let decoded: string
  try {
    // a backslash reads as a slash whether written as is or percent-encoded (%5C)
    decoded = decodeURIComponent(path).replaceAll('\\', '/')
  } catch {
    return false
  }
  const out: string[] = []
  for (const raw of decoded.split('/')) {
    const noParams = raw.replace(/;.*$/, '')
    const seg = noParams === '.' || noParams === '..' ? noParams : noParams.replace(/[\s\0.]+$/, '')
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  // folded as Go folds (long s, Kelvin sign, dotted and dotless i beside ASCII): a Go router matching paths
  // case-insensitively reads `auth_reque%C5%BFts` as the auth path
  return goFoldUpper('/' + out.join('/')).folded === AUTH_PATH.toUpperCase()
}

const AUTH_LOWER = AUTH_PATH.toLowerCase()

/**
 * looksLikeAuthPath for a path every segment of which is canonical: without percent-encoding nothing is decoded, no
 * segment has parameters, trailing dots or spaces, or is a dot segment, and only a trailing slash leaves an empty
 * segment, so the lenient reading is the path itself without that slash, case folded.
 */
function canonicalAuthAlias (path: string): boolean {
  if (path.includes('%')) return looksLikeAuthPath(path)
  const end = path.endsWith('/') ? path.length - 1 : path.length
  return end === AUTH_LOWER.length && path.slice(0, end).toLowerCase() === AUTH_LOWER
}

/** Checks an origin-form path + query. */
function checkOrigin (pathAndQuery: string, authority?: string): Target {
  if (pathAndQuery.includes('#')) return refuse('BAD_TARGET', 'fragment in request target')
  const q = pathAndQuery.indexOf('?')
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q)
  const query = q < 0 ? '' : pathAndQuery.slice(q)
  if (!path.startsWith('/')) return refuse('BAD_TARGET', 'path does not start with /')
  const segments = path.slice(1).split('/')
  for (let i = 0; i < segments.length; i++) {
    const problem = segmentProblem(segments[i] as string, i === segments.length - 1)
    if (problem !== '') return looksLikeAuthPath(path) ? refuse('AUTH_PATH_ALIAS', problem) : refuse('BAD_TARGET', problem)
  }
  if (path !== AUTH_PATH && canonicalAuthAlias(path)) return refuse('AUTH_PATH_ALIAS', 'spelling of the auth path')
  if (!QUERY.test(query.slice(1))) return refuse('BAD_TARGET', 'query has characters outside RFC 3986')
  return authority === undefined ? { ok: true, path, query } : { ok: true, path, query, authority }
}

/**
 * Reads a request target (RFC 9112 §3.2): origin-form is checked as is; absolute-form `https://host[:port]/path` is
 * served in origin form with its authority returned for the Host check; every other form is refused.
 */
export function checkTarget (target: string): Target {
  if (target.startsWith('/')) return checkOrigin(target)
  const m = ABSOLUTE.exec(target)
  if (m === null) return refuse('BAD_TARGET', 'not an origin-form or absolute-form target')
  const [, scheme = '', authority = '', rest = ''] = m
  if (scheme.toLowerCase() !== 'https') return refuse('BAD_TARGET', `scheme ${scheme} in an absolute-form target`)
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.test(authority)) return refuse('BAD_TARGET', 'bad authority')
  return checkOrigin(rest === '' ? '/' : rest, authority)
}

/** Host name of a Host header or authority (`[::1]:8080` → `::1`, `Example.com:443` → `example.com`). */
export function hostName (host: string): string {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '')
  return name.toLowerCase()
}
