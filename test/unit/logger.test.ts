// Unit tests of the logger: JSON lines, level choice and redaction of secrets.
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger, fixedFieldLog, isoTime, loggerOptions } from '../../src/observe/logger.js'

class LogSink extends Writable {
  lines: Array<Record<string, unknown>> = []
  raw = ''
  override _write (chunk: Buffer, _enc: string, cb: () => void): void {
    this.raw += chunk.toString()
    for (const l of chunk.toString().split('\n')) if (l !== '') this.lines.push(JSON.parse(l) as Record<string, unknown>)
    cb()
  }
}

const SECRET = 'Very-Secret-Value-123'

/** Logs `fields` once at info level and returns the parsed line. */
function logged (fields: Record<string, unknown>): Record<string, unknown> & { raw: string } {
  const sink = new LogSink()
  createLogger({ debug_log: false, log_level: 'info' }, sink).info(fields, 'msg')
  return { ...(sink.lines[0] ?? {}), raw: sink.raw }
}

const at = (obj: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj)

describe('logger redaction', () => {
  it('drops an error\'s rawPacket (the refused request bytes) at trace level, keeping its code', () => {
    const sink = new LogSink()
    const err = Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_HEADER_TOKEN', rawPacket: Buffer.from(`Authorization: Bearer ${SECRET}`) })
    createLogger({ debug_log: false, log_level: 'trace' }, sink).trace({ err }, 'client error')
    expect(at(sink.lines[0], 'err', 'code')).toBe('HPE_INVALID_HEADER_TOKEN')
    expect(at(sink.lines[0], 'err', 'rawPacket')).toBeUndefined()
  })

  it('redacts req.headers.authorization', () => {
    expect(at(logged({ req: { headers: { authorization: `Bearer ${SECRET}` } } }), 'req', 'headers', 'authorization')).toBe('[redacted]')
  })

  it('redacts req.headers.cookie', () => {
    expect(at(logged({ req: { headers: { cookie: SECRET } } }), 'req', 'headers', 'cookie')).toBe('[redacted]')
  })

  it('redacts headers.authorization', () => {
    expect(at(logged({ headers: { authorization: `Basic ${SECRET}` } }), 'headers', 'authorization')).toBe('[redacted]')
  })

  it('redacts headers.Authorization', () => {
    expect(at(logged({ headers: { Authorization: `Basic ${SECRET}` } }), 'headers', 'Authorization')).toBe('[redacted]')
  })

  it('redacts an authorization field one level down', () => {
    expect(at(logged({ upstream: { authorization: SECRET } }), 'upstream', 'authorization')).toBe('[redacted]')
  })

  it('redacts a top-level password', () => {
    expect(logged({ password: SECRET }).password).toBe('[redacted]')
  })

  it('redacts a nested password', () => {
    expect(at(logged({ user: { password: SECRET } }), 'user', 'password')).toBe('[redacted]')
  })

  it('redacts a top-level token', () => {
    expect(logged({ token: SECRET }).token).toBe('[redacted]')
  })

  it('redacts a nested token', () => {
    expect(at(logged({ auth: { token: SECRET } }), 'auth', 'token')).toBe('[redacted]')
  })

  it('redacts a nested jwt', () => {
    expect(at(logged({ auth: { jwt: SECRET } }), 'auth', 'jwt')).toBe('[redacted]')
  })

  it('redacts mender_pass and mender_token of a logged configuration', () => {
    const line = logged({ config: { mender_pass: SECRET, mender_token: SECRET, mender_user: 'ops' } })
    expect(at(line, 'config')).toEqual({ mender_pass: '[redacted]', mender_token: '[redacted]', mender_user: 'ops' })
  })

  it('redacts top-level mender_pass and mender_token', () => {
    const line = logged({ mender_pass: SECRET, mender_token: SECRET })
    expect([line.mender_pass, line.mender_token]).toEqual(['[redacted]', '[redacted]'])
  })

  it('never writes the secret text', () => {
    const line = logged({
      password: SECRET, token: SECRET, headers: { authorization: SECRET }, config: { mender_pass: SECRET }
    })
    expect(line.raw.includes(SECRET)).toBe(false)
  })

  it('keeps fields that are not secret', () => {
    expect(logged({ code: 'MTLS_ERR_X', password: SECRET }).code).toBe('MTLS_ERR_X')
  })
})

describe('logger format', () => {
  it('writes the level as a label', () => {
    expect(logged({}).level).toBe('info')
  })

  it('names the service', () => {
    expect(logged({}).service).toBe('mtls-ambassador')
  })

  it('writes an ISO timestamp', () => {
    expect(String(logged({}).time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('uses log_level when debug_log is off', () => {
    expect(loggerOptions({ debug_log: false, log_level: 'warn' }).level).toBe('warn')
  })

  it('logs at debug level when debug_log is on', () => {
    expect(loggerOptions({ debug_log: true, log_level: 'error' }).level).toBe('debug')
  })

  it('drops lines below the configured level', () => {
    const sink = new LogSink()
    const log = createLogger({ debug_log: false, log_level: 'warn' }, sink)
    log.info('hidden')
    log.warn('shown')
    expect(sink.lines.map((l) => l.msg)).toEqual(['shown'])
  })
})

describe('timestamps', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('writes the ISO time of the millisecond, the second part formatted once per second', () => {
    const t0 = Date.parse('2026-12-03T12:45:43.000Z')
    const now = vi.spyOn(Date, 'now')
    for (const ms of [0, 5, 42, 999, 1000, 1007, 61_230]) {
      now.mockReturnValue(t0 + ms)
      expect(isoTime()).toBe(`,"time":"${new Date(t0 + ms).toISOString()}"`)
    }
  })
})

describe('fixed-field lines', () => {
  it('have the format of every other line: level label, ISO time, service, fields, message', () => {
    const sink = new LogSink()
    fixedFieldLog(createLogger({ debug_log: false, log_level: 'info' }, sink)).info({ reqId: 'r1', status: 204, device: { cn: 'd' } }, 'request')
    const line = sink.lines[0] ?? {}
    expect(Object.keys(line)).toEqual(['level', 'time', 'service', 'reqId', 'status', 'device', 'msg'])
    expect(line).toMatchObject({ level: 'info', service: 'mtls-ambassador', reqId: 'r1', status: 204, device: { cn: 'd' }, msg: 'request' })
    expect(String(line.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('follow the level of the logger they come from', () => {
    const sink = new LogSink()
    fixedFieldLog(createLogger({ debug_log: false, log_level: 'warn' }, sink)).info({ reqId: 'r1' }, 'request')
    expect(sink.lines).toHaveLength(0)
  })
})
