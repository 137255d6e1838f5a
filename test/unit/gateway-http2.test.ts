// The HTTP/2 helpers the admission relies on: the authority of a request (`:authority`, else Host), a Host that
// contradicts `:authority`, HTTP/1.1's header limit applied to HTTP/2, the listener options, and the admitted peer
// found behind the socket proxy HTTP/2 hands requests.
import { maxHeaderSize } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { authorityProblem, headersTooLarge, H2_LIMITS, listenerOptions, requestHost } from '../../src/gateway/http2.js'
import { peerOf, setPeer, type PeerIdentity } from '../../src/tls/peer.js'

const timeouts = { headers_timeout: 15000, request_timeout: 120000, keep_alive_timeout: 65000 }

describe('requestHost', () => {
  it('reads Host on HTTP/1.1, even when a :authority-named header is present', () => {
    expect(requestHost({ httpVersionMajor: 1, headers: { host: 'a.test', ':authority': 'b.test' } })).toBe('a.test')
  })

  it('reads :authority on HTTP/2, else Host', () => {
    expect(requestHost({ httpVersionMajor: 2, headers: { ':authority': 'b.test', host: 'a.test' } })).toBe('b.test')
    expect(requestHost({ httpVersionMajor: 2, headers: { host: 'a.test' } })).toBe('a.test')
    expect(requestHost({ httpVersionMajor: 2, headers: {} })).toBeUndefined()
  })
})

describe('authorityProblem', () => {
  it('accepts :authority alone, Host alone, or both naming the same server (case aside)', () => {
    expect(authorityProblem({ ':authority': 'gw.test:443' })).toBe('')
    expect(authorityProblem({ host: 'gw.test' })).toBe('')
    expect(authorityProblem({ ':authority': 'GW.test', host: 'gw.TEST' })).toBe('')
  })

  it('refuses no authority at all, and a Host other than :authority', () => {
    expect(authorityProblem({})).not.toBe('')
    expect(authorityProblem({ ':authority': 'gw.test', host: 'other.test' })).not.toBe('')
  })
})

describe('headersTooLarge', () => {
  it('holds past HTTP/1.1\'s header limit, counted as HTTP/1.1 sends the fields', () => {
    expect(headersTooLarge({ rawHeaders: [':path', '/', 'x-a', 'b'] })).toBe(false)
    expect(headersTooLarge({ rawHeaders: ['x-a', 'b'.repeat(maxHeaderSize)] })).toBe(true)
  })
})

describe('listenerOptions', () => {
  it('is HTTPS alone when http2 is off', () => {
    expect(listenerOptions({ http2: false, ...timeouts }, { key: 'k' })).toEqual({ https: { key: 'k' } })
  })

  it('is an HTTP/2 server that allows HTTP/1.1, with bounded streams and sessions', () => {
    const o = listenerOptions({ http2: true, ...timeouts }, { key: 'k' }) as { http2: boolean, https: Record<string, unknown> }
    expect(o.http2).toBe(true)
    expect(o.https).toMatchObject({
      key: 'k',
      allowHTTP1: true,
      settings: { maxConcurrentStreams: H2_LIMITS.maxConcurrentStreams },
      maxSessionMemory: H2_LIMITS.maxSessionMemory
    })
    expect(H2_LIMITS.maxConcurrentStreams).toBeLessThanOrEqual(1000)
  })
})

describe('peerOf behind a socket proxy', () => {
  it('finds the admitted peer through a proxy that reads the socket\'s properties, and nothing for another', () => {
    const socket = {} as TLSSocket
    const peer = { cn: 'dev' } as PeerIdentity
    setPeer(socket, peer)
    const proxy = new Proxy({}, { get: (_t, prop) => (socket as unknown as Record<PropertyKey, unknown>)[prop] })
    expect(peerOf(proxy)).toBe(peer)
    const stranger = new Proxy({}, { get: (_t, prop) => ({} as Record<PropertyKey, unknown>)[prop] })
    expect(peerOf(stranger)).toBeUndefined()
    const unbound = new Proxy({}, { get: () => { throw new Error('socket unbound') } })
    expect(peerOf(unbound)).toBeUndefined()
  })
})
