// pino setup: JSON lines, secrets redacted wherever they may appear (headers, tokens, passwords, config dumps).
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

export function loggerOptions (config: Pick<CommonConfig, 'debug_log' | 'log_level'>): LoggerOptions {
  return {
    level: config.debug_log ? 'debug' : config.log_level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: errSerializer },
    base: { service: 'mtls-ambassador' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }
}

export function createLogger (config: Pick<CommonConfig, 'debug_log' | 'log_level'>, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(config)) : pino(loggerOptions(config), destination)
}

export type { Logger }
