// Unit tests of the TLS guard's mapping of OpenSSL verification and handshake errors to reason codes.
import { describe, expect, it } from 'vitest'
import { reasonForHandshakeError, reasonForVerifyError } from '../../src/tls/guard.js'

const errno = (code?: string): NodeJS.ErrnoException => Object.assign(new Error('tls'), code === undefined ? {} : { code })

describe('reasonForVerifyError', () => {
  it('maps CERT_HAS_EXPIRED to MTLS_ERR_TLS_CERT_EXPIRED', () => {
    expect(reasonForVerifyError('CERT_HAS_EXPIRED')).toBe('MTLS_ERR_TLS_CERT_EXPIRED')
  })

  it('maps CERT_NOT_YET_VALID to MTLS_ERR_TLS_CERT_NOT_YET_VALID', () => {
    expect(reasonForVerifyError('CERT_NOT_YET_VALID')).toBe('MTLS_ERR_TLS_CERT_NOT_YET_VALID')
  })

  it.each([
    'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
  ])('maps %s to MTLS_ERR_TLS_UNKNOWN_CA', (code) => {
    expect(reasonForVerifyError(code)).toBe('MTLS_ERR_TLS_UNKNOWN_CA')
  })

  it.each([
    ['INVALID_PURPOSE', 'MTLS_ERR_TLS_KEY_USAGE'], ['CA_MD_TOO_WEAK', 'MTLS_ERR_TLS_WEAK_SIGNATURE'],
    ['EE_KEY_TOO_SMALL', 'MTLS_ERR_TLS_WEAK_KEY'], ['UNHANDLED_CRITICAL_EXTENSION', 'MTLS_ERR_TLS_CRITICAL_EXTENSION'],
    ['PERMITTED_VIOLATION', 'MTLS_ERR_TLS_NAME_CONSTRAINTS'], ['EXCLUDED_VIOLATION', 'MTLS_ERR_TLS_NAME_CONSTRAINTS']
  ])('maps %s to %s', (code, reason) => {
    expect(reasonForVerifyError(code)).toBe(reason)
  })

  it.each(['INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'CERT_REVOKED', 'UNSPECIFIED', 'constructor', 'null', ''])(
    'maps %j to MTLS_ERR_TLS_BAD_CHAIN', (code) => {
      expect(reasonForVerifyError(code)).toBe('MTLS_ERR_TLS_BAD_CHAIN')
    })
})

describe('reasonForHandshakeError', () => {
  it('maps a peer without certificate to MTLS_ERR_TLS_NO_CERT', () => {
    expect(reasonForHandshakeError(errno('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'))).toBe('MTLS_ERR_TLS_NO_CERT')
  })

  it.each([
    'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_VERSION_TOO_LOW'
  ])('maps %s to MTLS_ERR_TLS_PROTOCOL', (code) => {
    expect(reasonForHandshakeError(errno(code))).toBe('MTLS_ERR_TLS_PROTOCOL')
  })

  it.each(['ECONNRESET', 'ERR_SSL_HTTP_REQUEST', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'])(
    'maps %s to MTLS_ERR_TLS_HANDSHAKE', (code) => {
      expect(reasonForHandshakeError(errno(code))).toBe('MTLS_ERR_TLS_HANDSHAKE')
    })

  it('maps an ASN.1 decoding error (a certificate OpenSSL cannot read) to MTLS_ERR_TLS_BAD_CERT', () => {
    expect(reasonForHandshakeError(Object.assign(errno('ERR_SSL_ILLEGAL_ZERO_CONTENT'), { library: 'asn1 encoding routines' }))).toBe('MTLS_ERR_TLS_BAD_CERT')
  })

  it('maps an error without code to MTLS_ERR_TLS_HANDSHAKE', () => {
    expect(reasonForHandshakeError(errno())).toBe('MTLS_ERR_TLS_HANDSHAKE')
  })
})
