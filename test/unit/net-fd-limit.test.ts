// The open-file limit read from /proc/self/limits and the connection cap it leaves: two descriptors per connection
// past a reserve, applied only when it is below max_connections (or when that is 0, unlimited).
import { describe, expect, it } from 'vitest'
import { FD_RESERVE, cappedConnections, connectionBudget, openFileLimit, parseOpenFileLimit } from '../../src/net/fd-limit.js'

const limits = (soft: string, hard = soft): string =>
  'Limit                     Soft Limit           Hard Limit           Units     \n' +
  'Max processes             63704                63704                processes \n' +
  `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n`

describe('open-file limit', () => {
  it('reads the soft limit, and nothing when it is unlimited or missing', () => {
    expect(parseOpenFileLimit(limits('256', '4096'))).toBe(256)
    expect(parseOpenFileLimit(limits('unlimited'))).toBeUndefined()
    expect(parseOpenFileLimit('Max processes 1 1 processes\n')).toBeUndefined()
  })

  it('reads this process\'s limit on Linux', () => {
    expect(openFileLimit()).toBeGreaterThan(0)
  })

  it('leaves two descriptors per connection past the reserve', () => {
    expect(connectionBudget(256)).toBe((256 - FD_RESERVE) / 2)
    expect(connectionBudget(1024)).toBe(480)
    expect(connectionBudget(10)).toBe(1)
  })

  it('lowers max_connections only when the limit carries fewer', () => {
    expect(cappedConnections(10_000, 1024)).toEqual({ max: 480, lowered: true })
    expect(cappedConnections(100, 1024)).toEqual({ max: 100, lowered: false })
    expect(cappedConnections(0, 1024)).toEqual({ max: 480, lowered: true })
    expect(cappedConnections(10_000, undefined)).toEqual({ max: 10_000, lowered: false })
    expect(cappedConnections(10_000, 1_048_576)).toEqual({ max: 10_000, lowered: false })
  })
})
