// Unit tests of error translation into Mender's error shape.
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { sendError, toHttpError } from '../../src/gateway/error-reply.js'
import { HttpErrors } from '../../src/errors.js'
import { createLogger } from '../../src/observe/logger.js'

const fastifyError = (code: string, statusCode?: number): Error => Object.assign(new Error(code), { code, statusCode })

describe('toHttpError', () => {
  it('passes our own coded error through unchanged', () => {
    const err = new HttpErrors.AUTH_BAD_SIGNATURE()
    expect(toHttpError(err)).toBe(err)
  })

  it.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'MTLS_ERR_BODY_TOO_LARGE'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'MTLS_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'MTLS_ERR_BAD_REQUEST'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'MTLS_ERR_BAD_REQUEST'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'MTLS_ERR_BAD_REQUEST']
  ])('maps %s to %s', (code, status, expected) => {
    expect(toHttpError(fastifyError(code, status)).code).toBe(expected)
  })

  it('maps another client-side Fastify error to MTLS_ERR_BAD_REQUEST', () => {
    expect(toHttpError(fastifyError('FST_ERR_SOMETHING', 422)).code).toBe('MTLS_ERR_BAD_REQUEST')
  })

  it('maps a coded server-side error to MTLS_ERR_INTERNAL', () => {
    expect(toHttpError(fastifyError('FST_ERR_SOMETHING', 500)).code).toBe('MTLS_ERR_INTERNAL')
  })

  it('maps a coded error without status to MTLS_ERR_INTERNAL', () => {
    expect(toHttpError(fastifyError('ECONNRESET')).code).toBe('MTLS_ERR_INTERNAL')
  })

  it('maps an uncoded error to MTLS_ERR_INTERNAL', () => {
    expect(toHttpError(new Error('boom')).code).toBe('MTLS_ERR_INTERNAL')
  })

  it('maps a thrown non-error to MTLS_ERR_INTERNAL', () => {
    expect(toHttpError('a string').code).toBe('MTLS_ERR_INTERNAL')
  })

  it('maps an MTLS_ERR_ code without status to MTLS_ERR_INTERNAL', () => {
    expect(toHttpError(fastifyError('MTLS_ERR_FAKE')).code).toBe('MTLS_ERR_INTERNAL')
  })

  it('keeps an unknown error as the cause of MTLS_ERR_INTERNAL', () => {
    const err = new Error('boom')
    expect(toHttpError(err).cause).toBe(err)
  })

  it('answers an unknown error with status 500', () => {
    expect(toHttpError(new Error('boom')).statusCode).toBe(500)
  })
})

class LogSink extends Writable {
  lines: Array<Record<string, unknown>> = []
  override _write (chunk: Buffer, _enc: string, cb: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l !== '') this.lines.push(JSON.parse(l) as Record<string, unknown>)
    cb()
  }
}

describe('sendError', () => {
  let close: (() => Promise<void>) | undefined
  afterEach(async () => { await close?.() })

  async function replyFor (err: unknown, sink = new LogSink()): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> {
    const app = Fastify({ loggerInstance: createLogger({ debug_log: false, log_level: 'info' }, sink), genReqId: () => 'req-42' })
    close = async () => { await app.close() }
    app.get('/x', async () => { throw err })
    app.setErrorHandler(async (e, request, reply) => await sendError(request, reply, e))
    return await app.inject({ method: 'GET', url: '/x' })
  }

  it('answers with the error status', async () => {
    expect((await replyFor(new HttpErrors.AUTH_BAD_SIGNATURE())).statusCode).toBe(401)
  })

  it('answers with Mender\'s error body', async () => {
    expect((await replyFor(new HttpErrors.AUTH_BAD_SIGNATURE())).json())
      .toEqual({ error: 'signature verification failed', request_id: 'req-42' })
  })

  it('sets X-MEN-RequestID', async () => {
    expect((await replyFor(new HttpErrors.NOT_FOUND())).headers['x-men-requestid']).toBe('req-42')
  })

  it('answers JSON', async () => {
    expect((await replyFor(new HttpErrors.NOT_FOUND())).headers['content-type']).toBe('application/json; charset=utf-8')
  })

  it('does not reveal the message of an unknown error', async () => {
    expect((await replyFor(new Error('secret detail /etc/passwd'))).body.includes('secret detail')).toBe(false)
  })

  it('logs the code of a server-side error at error level', async () => {
    const sink = new LogSink()
    await replyFor(new Error('boom'), sink)
    expect(sink.lines.find((l) => l.code === 'MTLS_ERR_INTERNAL')?.level).toBe('error')
  })

  it('logs the cause of an unknown error', async () => {
    const sink = new LogSink()
    await replyFor(new Error('boom'), sink)
    expect(sink.lines.find((l) => l.code === 'MTLS_ERR_INTERNAL')?.cause).toBe('boom')
  })

  it('logs a client-side error at warn level', async () => {
    const sink = new LogSink()
    await replyFor(new HttpErrors.AUTH_BAD_SIGNATURE(), sink)
    expect(sink.lines.find((l) => l.code === 'MTLS_ERR_AUTH_BAD_SIGNATURE')?.level).toBe('warn')
  })
})
