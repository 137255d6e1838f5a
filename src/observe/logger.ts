// pino setup: JSON lines, secrets redacted wherever they may appear (headers, tokens, passwords, config dumps), an
// ISO timestamp built once per second; and the fixed-field logger of hot lines (the access log), which skips the
// wildcard redaction because its fields are typed to what it may carry.
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino'
import type { CommonConfig } from '../config/model.js'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.Authorization',
  '*.authorization',
  '*.password',
  '*.token',
  '*.jwt',
  'token',
  'password',
  'mender_pass',
  'mender_token',
  'config.mender_pass',
  'config.mender_token'
]

/**
 * pino's error serializer without `rawPacket` (the bytes of a request the HTTP parser refused, credentials
 * included).
 */
function errSerializer (err: Error): Record<string, unknown> {
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>
  delete out.rawPacket
  return out
}

/** pino's `isoTime` (`,"time":"…Z"`), with the date and time up to the second formatted once per second. */
export function isoTime (): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== clock.second) {
    clock.second = second
    clock.prefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`
  }
  const ms = now - second * 1000
  return `${clock.prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`
}
const clock = { second: -1, prefix: '' }

export function loggerOptions (config: Pick<CommonConfig, 'debug_log' | 'log_level'>): LoggerOptions {
  return {
    level: config.debug_log ? 'debug' : config.log_level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: errSerializer },
    base: { service: 'mtls-ambassador' },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }
}

export function createLogger (config: Pick<CommonConfig, 'debug_log' | 'log_level'>, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(config)) : pino(loggerOptions(config), destination)
}

/** What a fixed-field line may carry: scalars, and flat records of strings (a device's log fields). */
export type FixedFields = Record<string, string | number | boolean | undefined | Readonly<Record<string, string>>>

/** Info lines of fixed, typed fields (never headers, bodies or errors): for lines written once per request. */
export interface FixedFieldLog { info: (fields: FixedFields, msg: string) => void }

/**
 * A logger for fixed-field lines, same destination, level and format as `log`, without the wildcard redaction:
 * matching `*.password` and the like against every field of every line is a large part of what a request costs,
 * and these fields, built by the caller from typed values, cannot hold a header, body or configuration.
 */
export function fixedFieldLog (log: Logger): FixedFieldLog {
  const plain = log.child({}, { redact: [] })
  return { info: (fields, msg) => { plain.info(fields, msg) } }
}

export type { Logger }
