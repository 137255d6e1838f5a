// Unit tests of auth request validation: Mender's check order and the parts handed to the interceptor.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { parseAuthRequest } from '../../src/gateway/device-auth/parse.js'
import { spkiDer } from '../../src/gateway/device-auth/keys.js'
import type { CodedError } from '../../src/errors.js'

type Pair = { publicKey: KeyObject, privateKey: KeyObject }
let ec: Pair
let rsa: Pair
let ed: Pair
let p384: Pair
let p521: Pair

beforeAll(() => {
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  ed = generateKeyPairSync('ed25519')
  p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' })
})

const JSON_TYPE = 'application/json'
const ID_DATA = '{"mac":"02:00:00:00:00:01"}'
const pemOf = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString()

function signed (doc: Record<string, unknown>, pair: Pair): { body: Buffer, sig: string } {
  const body = Buffer.from(JSON.stringify(doc))
  const algorithm = pair.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  return { body, sig: sign(algorithm, body, pair.privateKey).toString('base64') }
}

const request = (pair: Pair, extra: Record<string, unknown> = {}): { body: Buffer, sig: string } =>
  signed({ id_data: ID_DATA, pubkey: pemOf(pair.publicKey), ...extra }, pair)

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return (err as CodedError).code
  }
  return 'no error'
}

describe('parseAuthRequest check order', () => {
  it('answers a missing Content-Type with MTLS_ERR_UNSUPPORTED_MEDIA_TYPE', () => {
    const { body, sig } = request(ec)
    expect(codeOf(() => parseAuthRequest(body, undefined, sig))).toBe('MTLS_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('answers text/plain with MTLS_ERR_UNSUPPORTED_MEDIA_TYPE', () => {
    const { body, sig } = request(ec)
    expect(codeOf(() => parseAuthRequest(body, 'text/plain', sig))).toBe('MTLS_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('answers application/jsonx with MTLS_ERR_UNSUPPORTED_MEDIA_TYPE', () => {
    const { body, sig } = request(ec)
    expect(codeOf(() => parseAuthRequest(body, 'application/jsonx', sig))).toBe('MTLS_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('checks the media type before decoding the body', () => {
    expect(codeOf(() => parseAuthRequest(Buffer.from('{nope'), 'text/plain', undefined))).toBe('MTLS_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('answers a body that is not JSON with MTLS_ERR_AUTH_MALFORMED', () => {
    expect(codeOf(() => parseAuthRequest(Buffer.from('{nope'), JSON_TYPE, 'c2ln'))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })

  it('answers an empty body with MTLS_ERR_AUTH_MALFORMED', () => {
    expect(codeOf(() => parseAuthRequest(Buffer.alloc(0), JSON_TYPE, 'c2ln'))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })

  it.each(['[]', 'null', '"text"', '42'])('answers the JSON body %s with MTLS_ERR_AUTH_MALFORMED', (text) => {
    expect(codeOf(() => parseAuthRequest(Buffer.from(text), JSON_TYPE, 'c2ln'))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })

  it('decodes the body before checking id_data', () => {
    expect(codeOf(() => parseAuthRequest(Buffer.from('{"id_data":'), JSON_TYPE, undefined))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })

  it('answers a missing id_data with MTLS_ERR_AUTH_BAD_ID_DATA', () => {
    const { body, sig } = signed({ pubkey: pemOf(ec.publicKey) }, ec)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it('answers an id_data object (not a string) with MTLS_ERR_AUTH_BAD_ID_DATA', () => {
    const { body, sig } = request(ec, { id_data: { mac: 'x' } })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it('answers an id_data string that is not an object with MTLS_ERR_AUTH_BAD_ID_DATA', () => {
    const { body, sig } = request(ec, { id_data: '["x"]' })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it('checks id_data before the public key', () => {
    const { body, sig } = signed({ id_data: 7, pubkey: 'garbage' }, ec)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it('answers a missing pubkey with MTLS_ERR_AUTH_BAD_PUBKEY', () => {
    const { body, sig } = signed({ id_data: ID_DATA }, ec)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('answers a pubkey that is not PEM with MTLS_ERR_AUTH_BAD_PUBKEY', () => {
    const { body, sig } = request(ec, { pubkey: 'garbage' })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('answers a private key sent as pubkey with MTLS_ERR_AUTH_BAD_PUBKEY', () => {
    const { body, sig } = request(ec, { pubkey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('answers a P-521 key with MTLS_ERR_AUTH_UNSUPPORTED_KEY', () => {
    const { body, sig } = request(p521)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_UNSUPPORTED_KEY')
  })

  it('accepts a P-384 key signing with ECDSA over SHA-256 (DER), as the Mender client does', () => {
    const { body, sig } = request(p384)
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe('ec')
  })

  it('checks the key type before the signature header', () => {
    const { body } = request(p521)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, undefined))).toBe('MTLS_ERR_AUTH_UNSUPPORTED_KEY')
  })

  it('checks the public key before the signature header', () => {
    const { body } = request(ec, { pubkey: 'garbage' })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, undefined))).toBe('MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('answers a missing signature header with MTLS_ERR_AUTH_MISSING_SIGNATURE', () => {
    const { body } = request(ec)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, undefined))).toBe('MTLS_ERR_AUTH_MISSING_SIGNATURE')
  })

  it('answers an empty signature header with MTLS_ERR_AUTH_MISSING_SIGNATURE', () => {
    const { body } = request(ec)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, ''))).toBe('MTLS_ERR_AUTH_MISSING_SIGNATURE')
  })

  it('answers a wrong signature with MTLS_ERR_AUTH_BAD_SIGNATURE', () => {
    const { body } = request(ec)
    const { sig } = request(ec, { tenant_token: 'other body' })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_SIGNATURE')
  })

  it('answers a signature by another key with MTLS_ERR_AUTH_BAD_SIGNATURE', () => {
    const { body } = request(ec)
    const other = signed(JSON.parse(body.toString()) as Record<string, unknown>, generateKeyPairSync('ec', { namedCurve: 'P-256' }))
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, other.sig))).toBe('MTLS_ERR_AUTH_BAD_SIGNATURE')
  })
})

describe('parseAuthRequest status codes', () => {
  it.each([
    ['no content type', 415, () => parseAuthRequest(Buffer.from('{}'), undefined, undefined)],
    ['bad JSON', 400, () => parseAuthRequest(Buffer.from('{'), JSON_TYPE, undefined)],
    ['bad id_data', 400, () => parseAuthRequest(Buffer.from('{}'), JSON_TYPE, undefined)]
  ])('answers %s with HTTP %i', (_name, status, fn) => {
    let caught: CodedError | undefined
    try { fn() } catch (err) { caught = err as CodedError }
    expect(caught?.statusCode).toBe(status)
  })

  it('answers a bad signature with HTTP 401', () => {
    const { body } = request(ec)
    let caught: CodedError | undefined
    try { parseAuthRequest(body, JSON_TYPE, 'AAAA') } catch (err) { caught = err as CodedError }
    expect(caught?.statusCode).toBe(401)
  })
})

describe('parseAuthRequest result', () => {
  it('accepts application/json with a charset', () => {
    const { body, sig } = request(ec)
    expect(parseAuthRequest(body, 'application/json; charset=utf-8', sig).keyType).toBe('ec')
  })

  it('accepts an upper-case media type', () => {
    const { body, sig } = request(ec)
    expect(parseAuthRequest(body, 'Application/JSON', sig).keyType).toBe('ec')
  })

  it('returns the parsed identity', () => {
    const { body, sig } = request(ec)
    expect(parseAuthRequest(body, JSON_TYPE, sig).identity).toEqual({ mac: '02:00:00:00:00:01' })
  })

  it.each([['rsa'], ['ec'], ['ed25519']])('reports the key type %s', (type) => {
    const pair = type === 'rsa' ? rsa : type === 'ec' ? ec : ed
    const { body, sig } = request(pair)
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe(type)
  })

  it('returns the SPKI DER of the key', () => {
    const { body, sig } = request(ed)
    expect(parseAuthRequest(body, JSON_TYPE, sig).spki.equals(spkiDer(ed.publicKey))).toBe(true)
  })

  it('returns the canonical SPKI PEM of the key, never the text the device sent', () => {
    const text = pemOf(rsa.publicKey).replace(/\n/g, '\r\n')
    const { body, sig } = request(rsa, { pubkey: text })
    expect(parseAuthRequest(body, JSON_TYPE, sig).pubkeyPem).toBe(pemOf(rsa.publicKey))
  })

  it('refuses a PKCS#1 RSA PUBLIC KEY, which Mender refuses too (MTLS_ERR_AUTH_BAD_PUBKEY)', () => {
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    const { body, sig } = request(rsa, { pubkey: pkcs1 })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_PUBKEY')
  })

  it('picks up tenant_token', () => {
    const { body, sig } = request(ec, { tenant_token: 'tenant-abc' })
    expect(parseAuthRequest(body, JSON_TYPE, sig).tenantToken).toBe('tenant-abc')
  })

  it('treats an empty tenant_token as absent', () => {
    const { body, sig } = request(ec, { tenant_token: '' })
    expect(parseAuthRequest(body, JSON_TYPE, sig).tenantToken).toBeUndefined()
  })

  it('refuses a non-string tenant_token with MTLS_ERR_AUTH_MALFORMED, as Go fails to decode it', () => {
    const { body, sig } = request(ec, { tenant_token: 5 })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })

  it('treats a null tenant_token as absent, as Go does', () => {
    const { body, sig } = request(ec, { tenant_token: null })
    expect(parseAuthRequest(body, JSON_TYPE, sig).tenantToken).toBeUndefined()
  })

  it('ignores unknown fields', () => {
    const { body, sig } = request(ec, { tier: 'standard' })
    expect(parseAuthRequest(body, JSON_TYPE, sig).identity).toEqual({ mac: '02:00:00:00:00:01' })
  })
})

/** A body from raw JSON text, signed with `pair`. */
function rawSigned (text: string, pair: Pair = ec): { body: Buffer, sig: string } {
  const body = Buffer.from(text)
  return { body, sig: sign('sha256', body, pair.privateKey).toString('base64') }
}

const PEM = (): string => JSON.stringify(pemOf(ec.publicKey))

describe('parseAuthRequest reads fields by Go\'s rule', () => {
  it('reads a field whose name differs only in case (ID_DATA)', () => {
    const { body, sig } = rawSigned(`{"ID_DATA":${JSON.stringify(ID_DATA)},"PubKey":${PEM()}}`)
    expect(parseAuthRequest(body, JSON_TYPE, sig).identity).toEqual({ mac: '02:00:00:00:00:01' })
  })

  it('reads pubkey spelled with a Kelvin sign (U+212A folds to k)', () => {
    const { body, sig } = rawSigned(`{"id_data":${JSON.stringify(ID_DATA)},"pub\u212aey":${PEM()}}`)
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe('ec')
  })

  it('compares keys after unescaping ("\\u0069d_data" is id_data)', () => {
    const { body, sig } = rawSigned(`{"\\u0069d_data":${JSON.stringify(ID_DATA)},"pubkey":${PEM()}}`)
    expect(parseAuthRequest(body, JSON_TYPE, sig).identity).toEqual({ mac: '02:00:00:00:00:01' })
  })

  const ID = JSON.stringify(ID_DATA)
  it.each([
    ['id_data then ID_DATA', () => `"id_data":${ID},"ID_DATA":"{\\"mac\\":\\"x\\"}","pubkey":${PEM()}`],
    ['id_data twice', () => `"id_data":${ID},"id_data":${ID},"pubkey":${PEM()}`],
    ['id_data then null', () => `"id_data":${ID},"Id_Data":null,"pubkey":${PEM()}`],
    ['tenant_token then Tenant_Token', () => `"id_data":${ID},"tenant_token":"a","Tenant_Token":"b","pubkey":${PEM()}`],
    ['pubkey then its Kelvin spelling', () => `"id_data":${ID},"pubkey":${PEM()},"pub\u212Aey":${PEM()}`],
    ['a dotless-i spelling (folds in Go 1.21+ only)', () => `"\u0131d_data":${ID},"pubkey":${PEM()}`],
    ['a dotted-I spelling (folds in Go 1.21+ only)', () => `"id_data":${ID},"\\u0130D_DATA":${ID},"pubkey":${PEM()}`]
  ])('refuses %s with MTLS_ERR_AUTH_AMBIGUOUS_FIELD', (_name, fields) => {
    const { body, sig } = rawSigned(`{${fields()}}`)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_AMBIGUOUS_FIELD')
  })

  it('turns each invalid UTF-8 byte of the body into U+FFFD, as Go\'s utf8.DecodeRune does', () => {
    const body = Buffer.concat([Buffer.from('{"pubkey":' + PEM() + ',"id_data":"{\\"mac\\":\\"'), Buffer.from([0xe2, 0x82, 0x41, 0xff, 0xf0, 0x9f, 0x98]), Buffer.from('\\"}"}')])
    const sig = sign('sha256', body, ec.privateKey).toString('base64')
    expect(parseAuthRequest(body, JSON_TYPE, sig).identity).toEqual({ mac: '\uFFFD\uFFFDA\uFFFD\uFFFD\uFFFD\uFFFD' })
  })

  it('treats a null id_data as missing (MTLS_ERR_AUTH_BAD_ID_DATA)', () => {
    const { body, sig } = rawSigned(`{"id_data":null,"pubkey":${PEM()}}`)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })

  it.each([['a BOM', '\uFEFF{}'], ['trailing garbage', '{} x'], ['a second value', '{}{}']])('answers a body with %s with MTLS_ERR_AUTH_MALFORMED', (_n, text) => {
    expect(codeOf(() => parseAuthRequest(Buffer.from(text), JSON_TYPE, 'c2ln'))).toBe('MTLS_ERR_AUTH_MALFORMED')
  })
})

describe('parseAuthRequest bounds', () => {
  it('accepts a body nested 32 deep', () => {
    const { body, sig } = rawSigned(`{"x":${'['.repeat(31)}${']'.repeat(31)},"id_data":${JSON.stringify(ID_DATA)},"pubkey":${PEM()}}`)
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe('ec')
  })

  it.each([33, 5000, 100_000])('refuses a body nested %i deep with MTLS_ERR_AUTH_TOO_DEEP', (depth) => {
    const body = Buffer.from(`{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`)
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, 'c2ln'))).toBe('MTLS_ERR_AUTH_TOO_DEEP')
  })

  it('accepts id_data nested 32 deep', () => {
    const { body, sig } = request(ec, { id_data: `{"l":${'['.repeat(31)}${']'.repeat(31)}}` })
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe('ec')
  })

  it.each([33, 5000])('refuses id_data nested %i deep with MTLS_ERR_AUTH_ID_DATA_TOO_DEEP', (depth) => {
    const { body, sig } = request(ec, { id_data: `{"l":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}` })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_ID_DATA_TOO_DEEP')
  })

  it('accepts id_data of 16 KiB', () => {
    const idData = JSON.stringify({ mac: 'x'.repeat(16 * 1024 - 10) })
    const { body, sig } = request(ec, { id_data: idData })
    expect(Buffer.byteLength(idData)).toBe(16 * 1024)
    expect(parseAuthRequest(body, JSON_TYPE, sig).keyType).toBe('ec')
  })

  it('refuses id_data above 16 KiB with MTLS_ERR_AUTH_ID_DATA_TOO_LARGE', () => {
    const { body, sig } = request(ec, { id_data: JSON.stringify({ mac: 'x'.repeat(16 * 1024 - 9) }) })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_ID_DATA_TOO_LARGE')
  })

  it('refuses a number in id_data that float64 cannot hold (MTLS_ERR_AUTH_BAD_ID_DATA)', () => {
    const { body, sig } = request(ec, { id_data: '{"mac":1e400}' })
    expect(codeOf(() => parseAuthRequest(body, JSON_TYPE, sig))).toBe('MTLS_ERR_AUTH_BAD_ID_DATA')
  })
})

describe('parseAuthRequest key cache', () => {
  it('parses a key text once: the next request with the same text gets the same key, SPKI and PEM', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const a = request(pair)
    const b = request(pair, { tenant_token: 'other request, same key text' })
    const first = parseAuthRequest(a.body, JSON_TYPE, a.sig)
    const second = parseAuthRequest(b.body, JSON_TYPE, b.sig)
    expect(second.key).toBe(first.key)
    expect(second.spki).toBe(first.spki)
    expect(second.spki.equals(spkiDer(pair.publicKey))).toBe(true)
    expect(second.pubkeyPem).toBe(pemOf(pair.publicKey))
  })

  it('still checks every signature against a cached key', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const good = request(pair)
    parseAuthRequest(good.body, JSON_TYPE, good.sig)
    const forged = signed({ id_data: ID_DATA, pubkey: pemOf(pair.publicKey) }, ec)
    expect(codeOf(() => parseAuthRequest(forged.body, JSON_TYPE, forged.sig))).toBe('MTLS_ERR_AUTH_BAD_SIGNATURE')
  })

  it('keeps refusing an unsupported key on every request (refusals are not cached as keys)', () => {
    const r = request(p521)
    expect(codeOf(() => parseAuthRequest(r.body, JSON_TYPE, r.sig))).toBe('MTLS_ERR_AUTH_UNSUPPORTED_KEY')
    expect(codeOf(() => parseAuthRequest(r.body, JSON_TYPE, r.sig))).toBe('MTLS_ERR_AUTH_UNSUPPORTED_KEY')
  })
})
