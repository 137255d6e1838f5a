// Unit tests of listener address parsing.
import { describe, expect, it } from 'vitest'
import { parseListen } from '../../src/config/listen.js'

describe('parseListen', () => {
  it('reads a bare port on all interfaces', () => {
    expect(parseListen('8080')).toEqual({ host: '0.0.0.0', port: 8080 })
  })

  it('reads `:port` on all interfaces', () => {
    expect(parseListen(':8443')).toEqual({ host: '0.0.0.0', port: 8443 })
  })

  it('reads host:port', () => {
    expect(parseListen('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 })
  })

  it('reads a host name with port 0', () => {
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 })
  })

  it('strips the brackets of an IPv6 host', () => {
    expect(parseListen('[::1]:8080')).toEqual({ host: '::1', port: 8080 })
  })

  it('ignores surrounding whitespace', () => {
    expect(parseListen(' 8080 ')).toEqual({ host: '0.0.0.0', port: 8080 })
  })

  it('accepts the highest port', () => {
    expect(parseListen('65535')?.port).toBe(65535)
  })

  it.each(['65536', '99999', '', 'http', 'localhost', 'localhost:', '::1:8080', 'a b:80', '-1', '123456', '8080/tcp'])(
    'refuses %j', (text) => {
      expect(parseListen(text)).toBeUndefined()
    })
})
