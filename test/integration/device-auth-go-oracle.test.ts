// The ambassador reads auth request bodies as Mender does: every body of a tricky corpus is decoded by a Go program
// (Go's encoding/json into Mender's AuthReq struct, JsonSort, pem.Decode + ParsePKIXPublicKey) and by
// parseAuthRequest; the ambassador never accepts what Go refuses, reads what it accepts exactly as Go does, and
// refuses a body Go accepts only for a documented reason (ambiguity, a depth or size bound, a strict PEM).
import { sign } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAuthRequest, type AuthRequest } from '../../src/gateway/device-auth/parse.js'
import { canonicalJson } from '../../src/gateway/device-auth/identity.js'
import { GO_FOLDS } from '../../src/gateway/device-auth/auth-body.js'
import { authBodyCorpus, corpusKeys, type CorpusBody, type CorpusKeys } from '../support/auth-bodies.js'
import { buildGoOracle, goAccepts, modernGoJson, type GoOracle, type GoReading } from '../support/go-oracle.js'

type Reading = { ok: true, auth: AuthRequest } | { ok: false, code: string, status: number | undefined }

let oracle: GoOracle
let keys: CorpusKeys
let corpus: CorpusBody[]
let go: GoReading[]
let ours: Reading[]

/** Signs with the key Go reads from the body (key A when Go reads none), so the signature never decides. */
function signatureFor (body: Buffer, reading: GoReading): string {
  const specB = keys.b.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  const key = reading.spki === specB ? keys.b.privateKey : keys.a.privateKey
  return sign('sha256', body, key).toString('base64')
}

function readOurs (body: Buffer, signature: string): Reading {
  try {
    return { ok: true, auth: parseAuthRequest(body, 'application/json', signature) }
  } catch (err) {
    const e = err as { code?: unknown, statusCode?: unknown }
    return { ok: false, code: String(e.code), status: typeof e.statusCode === 'number' ? e.statusCode : undefined }
  }
}

/** Deepest bracket nesting of a JSON text (outside strings). */
function jsonDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') max = Math.max(max, ++depth)
    else if (c === '}' || c === ']') depth--
  }
  return max
}

/** The codes with which the ambassador may refuse a body Go accepts, each a documented stricter rule. */
function allowedRefusals (r: GoReading): string[] {
  const allowed: string[] = []
  if (Object.values(r.matches).some((n) => n > 1) || r.keys.some((k) => /[\u0130\u0131]/.test(k))) {
    allowed.push('MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
  }
  if (r.depth > 32) allowed.push('MTLS_ERR_AUTH_TOO_DEEP')
  if (Buffer.byteLength(r.idData) > 16 * 1024) allowed.push('MTLS_ERR_AUTH_ID_DATA_TOO_LARGE')
  if (jsonDepth(r.identity) > 32) allowed.push('MTLS_ERR_AUTH_ID_DATA_TOO_DEEP')
  if (!r.identity.startsWith('{')) allowed.push('MTLS_ERR_AUTH_BAD_ID_DATA')
  if (!keys.cleanPems.includes(r.pubkey)) allowed.push('MTLS_ERR_AUTH_BAD_PUBKEY')
  return allowed
}

beforeAll(() => {
  oracle = buildGoOracle()
  keys = corpusKeys()
  corpus = authBodyCorpus(keys)
  go = oracle.read(corpus.map((c) => c.body))
  ours = corpus.map((c, i) => readOurs(c.body, signatureFor(c.body, go[i] as GoReading)))
}, 180_000)

afterAll(() => oracle?.cleanup())

const each = (fn: (c: CorpusBody, g: GoReading, o: Reading) => string | undefined): string[] =>
  corpus.map((c, i) => fn(c, go[i] as GoReading, ours[i] as Reading)).filter((x): x is string => x !== undefined)

describe('auth request bodies, read as Go reads them', () => {
  it('covers a corpus of several hundred bodies, many of which Mender accepts', () => {
    expect(corpus.length).toBeGreaterThan(500)
    expect(go.filter(goAccepts).length).toBeGreaterThan(100)
  })

  it('refuses every body Mender refuses, with a coded 4xx', () => {
    expect(each((c, g, o) => !goAccepts(g) && (o.ok || (o.status ?? 500) >= 500) ? `${c.name}: ${JSON.stringify(o.ok ? 'accepted' : o)}` : undefined)).toEqual([])
  })

  it('reads the identity of every body it accepts exactly as Mender does', () => {
    expect(each((c, g, o) => o.ok && canonicalJson(o.auth.identity) !== modernGoJson(g.identity)
      ? `${c.name}: ours ${canonicalJson(o.auth.identity).slice(0, 80)} go ${g.identity.slice(0, 80)}`
      : undefined)).toEqual([])
  })

  it('reads the tenant token of every body it accepts exactly as Mender does', () => {
    expect(each((c, g, o) => o.ok && (o.auth.tenantToken ?? '') !== g.tenantToken ? `${c.name}: ${String(o.auth.tenantToken)} ≠ ${g.tenantToken}` : undefined)).toEqual([])
  })

  it('reads the public key of every body it accepts exactly as Mender does', () => {
    expect(each((c, g, o) => o.ok && o.auth.spki.toString('base64') !== g.spki ? c.name : undefined)).toEqual([])
  })

  it('refuses a body Mender accepts only for a documented, stricter rule', () => {
    expect(each((c, g, o) => goAccepts(g) && !o.ok && !allowedRefusals(g).includes(o.code)
      ? `${c.name}: ${o.code} (allowed: ${allowedRefusals(g).join(', ') || 'none'})`
      : undefined)).toEqual([])
  })

  it('accepts every body Mender accepts that no stricter rule refuses', () => {
    expect(each((c, g, o) => goAccepts(g) && allowedRefusals(g).length === 0 && !o.ok ? `${c.name}: ${o.code}` : undefined)).toEqual([])
  })

  it('refuses each body in which Go matched several keys to one field with MTLS_ERR_AUTH_AMBIGUOUS_FIELD', () => {
    expect(each((c, g, o) => g.decodeErr === '' && Object.values(g.matches).some((n) => n > 1) && (o.ok || o.code !== 'MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
      ? `${c.name}: ${o.ok ? 'accepted' : o.code}`
      : undefined)).toEqual([])
  })

  it('knows exactly the non-ASCII runes Go folds to an ASCII letter', () => {
    const ours = [...GO_FOLDS].map(([ch, f]) => `${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}:${f.letter}`)
    expect(ours.sort()).toEqual(oracle.foldTable().sort())
  })
})
