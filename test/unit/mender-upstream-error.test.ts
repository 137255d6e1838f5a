// Unit tests of the classification of failures talking to Mender, through nested `cause` chains.
import { describe, expect, it } from 'vitest'
import { rootCode, upstreamFailure } from '../../src/gateway/mender/upstream-error.js'

function coded (code: string | undefined, cause?: unknown): Error {
  const err = new Error(`failure ${code ?? ''}`, cause === undefined ? undefined : { cause })
  if (code !== undefined) Object.assign(err, { code })
  return err
}

describe('rootCode', () => {
  it('returns the code of a single error', () => {
    expect(rootCode(coded('ECONNREFUSED'))).toBe('ECONNREFUSED')
  })

  it('returns the innermost code of a chain', () => {
    expect(rootCode(coded('FST_REPLY_FROM_INTERNAL_SERVER_ERROR', coded('UND_ERR_SOCKET', coded('ECONNRESET')))))
      .toBe('ECONNRESET')
  })

  it('keeps an outer code when the inner cause has none', () => {
    expect(rootCode(coded('UND_ERR_CONNECT_TIMEOUT', new Error('inner')))).toBe('UND_ERR_CONNECT_TIMEOUT')
  })

  it('skips an uncoded link in the middle of the chain', () => {
    expect(rootCode(coded('OUTER', coded(undefined, coded('ENOTFOUND'))))).toBe('ENOTFOUND')
  })

  it('returns an empty string for an uncoded error', () => {
    expect(rootCode(new Error('plain'))).toBe('')
  })

  it('returns an empty string for a non-error', () => {
    expect(rootCode('ECONNREFUSED')).toBe('')
  })

  it('ignores a numeric code', () => {
    expect(rootCode(Object.assign(new Error('x'), { code: 42 }))).toBe('')
  })

  it('stops following a cyclic chain', () => {
    const a = coded('ECONNRESET')
    ;(a as { cause?: unknown }).cause = a
    expect(rootCode(a)).toBe('ECONNRESET')
  })
})

describe('upstreamFailure', () => {
  it.each([
    'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT',
    'FST_REPLY_FROM_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT'
  ])('maps %s to MTLS_ERR_UPSTREAM_TIMEOUT', (code) => {
    expect(upstreamFailure(coded(code)).code).toBe('MTLS_ERR_UPSTREAM_TIMEOUT')
  })

  it.each(['ENOTFOUND', 'EAI_AGAIN'])('maps %s to MTLS_ERR_UPSTREAM_UNAVAILABLE', (code) => {
    expect(upstreamFailure(coded(code)).code).toBe('MTLS_ERR_UPSTREAM_UNAVAILABLE')
  })

  it.each([
    'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER'
  ])('maps %s to MTLS_ERR_UPSTREAM_TLS', (code) => {
    expect(upstreamFailure(coded(code)).code).toBe('MTLS_ERR_UPSTREAM_TLS')
  })

  it.each(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EHOSTUNREACH'])('maps %s to MTLS_ERR_UPSTREAM_CONNECT', (code) => {
    expect(upstreamFailure(coded(code)).code).toBe('MTLS_ERR_UPSTREAM_CONNECT')
  })

  it('maps an uncoded error to MTLS_ERR_UPSTREAM_CONNECT', () => {
    expect(upstreamFailure(new Error('?')).code).toBe('MTLS_ERR_UPSTREAM_CONNECT')
  })

  it('classifies a timeout wrapped twice', () => {
    const err = coded('FST_REPLY_FROM_INTERNAL_SERVER_ERROR', coded(undefined, coded('UND_ERR_HEADERS_TIMEOUT')))
    expect(upstreamFailure(err).code).toBe('MTLS_ERR_UPSTREAM_TIMEOUT')
  })

  it('classifies a TLS failure wrapped in a connect error', () => {
    expect(upstreamFailure(coded('UND_ERR_CONNECT', coded('CERT_HAS_EXPIRED'))).code).toBe('MTLS_ERR_UPSTREAM_TLS')
  })

  it('classifies by the inner DNS failure, not the outer wrapper', () => {
    expect(upstreamFailure(coded('FST_REPLY_FROM_BAD_GATEWAY', coded('ENOTFOUND'))).code).toBe('MTLS_ERR_UPSTREAM_UNAVAILABLE')
  })

  it('keeps the original error as cause', () => {
    const original = coded('ECONNREFUSED')
    expect(upstreamFailure(original).cause).toBe(original)
  })

  it.each([
    ['UND_ERR_HEADERS_TIMEOUT', 504], ['ENOTFOUND', 503], ['CERT_HAS_EXPIRED', 502], ['ECONNREFUSED', 502]
  ])('gives %s the status %i', (code, status) => {
    expect(upstreamFailure(coded(code)).statusCode).toBe(status)
  })
})
