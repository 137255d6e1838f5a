// Unit tests of the request headers set on everything forwarded to Mender.
import { describe, expect, it } from 'vitest'
import { HeaderRewriter, IDENTITY_HEADER, identityHeaderValue } from '../../src/gateway/proxy/headers.js'
import type { PeerIdentity } from '../../src/tls/peer.js'

const plain = new HeaderRewriter(false)
const withIdentity = new HeaderRewriter(true)
const forwardedHeaders = plain.forwarded.bind(plain)
const rewriteForUpstream = plain.rewrite.bind(plain)
const PEER = { fingerprint: 'ab12', serial: '7f', subject: 'CN=dev "1", O=acme' } as unknown as PeerIdentity

const SOURCE = { id: 'req-123', socket: { remoteAddress: '192.0.2.7' } }

describe('forwardedHeaders', () => {
  it('sets X-MEN-RequestID to the request id', () => {
    expect(forwardedHeaders(SOURCE)['x-men-requestid']).toBe('req-123')
  })

  it('sets X-Forwarded-For to the device address', () => {
    expect(forwardedHeaders(SOURCE)['x-forwarded-for']).toBe('192.0.2.7')
  })

  it('sets X-Forwarded-Proto to https', () => {
    expect(forwardedHeaders(SOURCE)['x-forwarded-proto']).toBe('https')
  })

  it('leaves X-Forwarded-For empty when the address is unknown', () => {
    expect(forwardedHeaders({ id: 'r', socket: {} })['x-forwarded-for']).toBe('')
  })
})

describe('rewriteForUpstream', () => {
  const inbound = {
    'x-forwarded-for': '10.9.9.9',
    'x-forwarded-proto': 'http',
    'x-men-requestid': 'device-chosen',
    authorization: 'Bearer device-jwt',
    'content-type': 'application/json'
  }

  it('replaces an inbound X-Forwarded-For', () => {
    expect(rewriteForUpstream(SOURCE, inbound)['x-forwarded-for']).toBe('192.0.2.7')
  })

  it('replaces an inbound X-Forwarded-Proto', () => {
    expect(rewriteForUpstream(SOURCE, inbound)['x-forwarded-proto']).toBe('https')
  })

  it('replaces an inbound X-MEN-RequestID', () => {
    expect(rewriteForUpstream(SOURCE, inbound)['x-men-requestid']).toBe('req-123')
  })

  it('keeps the device Authorization header', () => {
    expect(rewriteForUpstream(SOURCE, inbound).authorization).toBe('Bearer device-jwt')
  })

  it('keeps other headers', () => {
    expect(rewriteForUpstream(SOURCE, inbound)['content-type']).toBe('application/json')
  })

  it('does not modify the inbound headers', () => {
    const copy = { ...inbound }
    rewriteForUpstream(SOURCE, copy)
    expect(copy).toEqual(inbound)
  })
})

describe('identity forwarding', () => {
  it('formats X-Forwarded-Client-Cert with hash, serial and quoted subject', () => {
    expect(identityHeaderValue(PEER)).toBe('Hash=ab12;Serial=7f;Subject="CN=dev \\"1\\", O=acme"')
  })

  it('adds the identity header when enabled', () => {
    expect(withIdentity.rewrite({ ...SOURCE, peer: PEER }, {} as Record<string, string>)[IDENTITY_HEADER])
      .toBe(identityHeaderValue(PEER))
  })

  it('replaces an inbound identity header with the verified one when enabled', () => {
    expect(withIdentity.rewrite({ ...SOURCE, peer: PEER }, { [IDENTITY_HEADER]: 'Hash=forged' })[IDENTITY_HEADER]).toBe(identityHeaderValue(PEER))
  })

  it('strips an inbound identity header when disabled', () => {
    expect(plain.rewrite({ ...SOURCE, peer: PEER }, { [IDENTITY_HEADER]: 'Hash=forged' })).not.toHaveProperty(IDENTITY_HEADER)
  })
})
