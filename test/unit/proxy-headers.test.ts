// Unit tests of the request headers set on everything forwarded to Mender.
import { describe, expect, it } from 'vitest'
import { HeaderRewriter, IDENTITY_HEADER, identityHeaderValue, responseHeaders } from '../../src/gateway/proxy/headers.js'
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

describe('responseHeaders', () => {
  const upstream = { connection: 'close', 'keep-alive': 'timeout=5', 'content-type': 'application/json', 'x-odd': 'a\u0001b\u007fc', 'set-cookie': ['a=1', 'b=\u00002'] }

  it('drops Mender\'s hop-by-hop headers and keeps the rest', () => {
    const out = responseHeaders(upstream)
    expect(Object.keys(out)).toEqual(['content-type', 'x-odd', 'set-cookie'])
    expect(out['content-type']).toBe('application/json')
  })

  it('removes characters Node would refuse to send from every value', () => {
    const out = responseHeaders(upstream)
    expect(out['x-odd']).toBe('abc')
    expect(out['set-cookie']).toEqual(['a=1', 'b=2'])
  })

  it('leaves the upstream object as it was', () => {
    responseHeaders(upstream)
    expect(upstream.connection).toBe('close')
  })
})

describe('rewrite copies once', () => {
  it('returns a new object and leaves the one it was given untouched', () => {
    const given = { 'x-forwarded-for': '10.0.0.1', accept: '*/*' }
    const out = rewriteForUpstream(SOURCE, given)
    expect(out).not.toBe(given)
    expect(given).toEqual({ 'x-forwarded-for': '10.0.0.1', accept: '*/*' })
    expect(out).toEqual({ accept: '*/*', 'x-men-requestid': 'req-123', 'x-forwarded-for': '192.0.2.7', 'x-forwarded-proto': 'https' })
  })

  it('drops a header the Connection header names, even one the name memo says to keep', () => {
    rewriteForUpstream(SOURCE, { 'x-custom': '1' })
    expect(rewriteForUpstream(SOURCE, { 'x-custom': '1', connection: 'x-custom' }, 'x-custom')['x-custom']).toBeUndefined()
  })
})
