// The simulator (the Mender stand-in) decodes auth requests with its own implementation of Go's rules: every body of
// the tricky corpus is read by the Go oracle and by the simulator's decode/validate steps, and the readings agree —
// fields, identity (JsonSort), key (pem.Decode + ParsePKIXPublicKey) and which bodies are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeAuthRequest, validateAuthRequest } from '../../src/tools/simulator/routes-auth.js'
import { goFold, goMarshal } from '../../src/tools/simulator/go-marshal.js'
import { authBodyCorpus, corpusKeys, type CorpusBody } from '../support/auth-bodies.js'
import { buildGoOracle, goAccepts, modernGoJson, type GoOracle, type GoReading } from '../support/go-oracle.js'

let oracle: GoOracle
let corpus: CorpusBody[]
let go: GoReading[]

/**
 * The body as Go ≥ 1.21 (Mender's current builds) reads it, for the Go 1.19 oracle: since foldName, dotted and dotless
 * i in a key fold to I, so a key spelled with them matches as the same key spelled with I (the corpus uses them only
 * in keys).
 */
function asModernGo (body: Buffer): Buffer {
  return Buffer.from(body.toString('latin1')
    .replace(/\u00c4[\u00b0\u00b1]/g, 'I')
    .replace(/\\u013[01]/g, 'I'), 'latin1')
}

beforeAll(() => {
  oracle = buildGoOracle()
  corpus = authBodyCorpus(corpusKeys())
  go = oracle.read(corpus.map((c) => asModernGo(c.body)))
}, 180_000)

afterAll(() => oracle?.cleanup())

const each = (fn: (c: CorpusBody, g: GoReading) => string | undefined): string[] =>
  corpus.map((c, i) => fn(c, go[i] as GoReading)).filter((x): x is string => x !== undefined)

describe('the simulator decodes auth requests as Go does', () => {
  it('fails to decode exactly the bodies Go fails to decode', () => {
    expect(each((c, g) => decodeAuthRequest(c.body).ok === (g.decodeErr === '') ? undefined : `${c.name}: go ${g.decodeErr || 'ok'}`)).toEqual([])
  })

  it('reads id_data, pubkey and tenant_token exactly as Go does (last match wins)', () => {
    expect(each((c, g) => {
      const d = decodeAuthRequest(c.body)
      if (!d.ok) return undefined
      const ours = [d.value.idData, d.value.pubkey, d.value.tenantToken ?? '']
      return JSON.stringify(ours) === JSON.stringify([g.idData, g.pubkey, g.tenantToken]) ? undefined : c.name
    })).toEqual([])
  })

  it('refuses exactly the bodies Mender\'s Validate refuses', () => {
    expect(each((c, g) => {
      const d = decodeAuthRequest(c.body)
      const valid = d.ok && validateAuthRequest(d.value).ok
      // Go's JsonSort takes the text `null` (a nil map); the simulator wants an identity object
      const allowed = !valid && g.identity === 'null'
      return valid === goAccepts(g) || allowed ? undefined : `${c.name}: simulator ${valid ? 'accepts' : 'refuses'}`
    })).toEqual([])
  })

  it('canonicalises the identity and reads the key exactly as Mender does', () => {
    expect(each((c, g) => {
      const d = decodeAuthRequest(c.body)
      const v = d.ok ? validateAuthRequest(d.value) : undefined
      if (v?.ok !== true) return undefined
      const spki = v.value.key.export({ type: 'spki', format: 'der' }).toString('base64')
      return goMarshal(v.value.identity) === modernGoJson(g.identity) && spki === g.spki ? undefined : c.name
    })).toEqual([])
  })

  it('folds exactly the non-ASCII runes Go folds to an ASCII letter', () => {
    const ours: string[] = []
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue
      const folded = goFold(String.fromCodePoint(cp))
      if (folded.length === 1 && folded < '\u0080') ours.push(`${cp.toString(16).toUpperCase().padStart(4, '0')}:${folded}`)
    }
    expect(ours).toEqual(oracle.foldTable())
  })
})
