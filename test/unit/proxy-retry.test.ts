// When a proxied request is tried again: once at most, only idempotent methods, only when the connection to Mender
// failed before any byte was sent, never on an answer.
import { describe, expect, it } from 'vitest'
import { retryDelay } from '../../src/gateway/proxy/retry.js'

const failure = (code: string, wrapped = false): Error => {
  const inner = Object.assign(new Error(code), { code })
  return wrapped ? Object.assign(new Error('fetch failed'), { cause: inner, code: 'UND_ERR' }) : inner
}

describe('retryDelay', () => {
  it('retries a GET, HEAD or OPTIONS once when the connection was refused or unreachable', () => {
    for (const method of ['GET', 'head', 'OPTIONS']) {
      for (const code of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']) {
        expect(retryDelay({ err: failure(code, true), req: { method }, res: undefined, attempt: 0 }), `${method} ${code}`)
          .toBe(50)
      }
    }
  })

  it('never retries a request that is not idempotent, even when nothing was sent', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', undefined]) {
      expect(retryDelay({ err: failure('ECONNREFUSED'), req: { method }, res: undefined, attempt: 0 }), String(method))
        .toBeNull()
    }
  })

  it('never retries once bytes may have reached Mender, after an answer, or a second time', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT']) {
      expect(retryDelay({ err: failure(code), req: { method: 'GET' }, res: undefined, attempt: 0 }), code).toBeNull()
    }
    expect(retryDelay({ err: failure('ECONNREFUSED'), req: { method: 'GET' }, res: { statusCode: 503 }, attempt: 0 }))
      .toBeNull()
    expect(retryDelay({ err: failure('ECONNREFUSED'), req: { method: 'GET' }, res: undefined, attempt: 1 })).toBeNull()
    expect(retryDelay({ err: null, req: { method: 'GET' }, res: undefined, attempt: 0 })).toBeNull()
  })
})
