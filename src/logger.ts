// pino setup: JSON lines, secrets redacted wherever they may appear (headers, tokens, passwords, config dumps).
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino'
import type { Config } from './config/schema.js'

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

export function loggerOptions (config: Pick<Config, 'debug_log' | 'log_level'>): LoggerOptions {
  return {
    level: config.debug_log ? 'debug' : config.log_level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'mtls-ambassador' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }
}

export function createLogger (config: Pick<Config, 'debug_log' | 'log_level'>, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(config)) : pino(loggerOptions(config), destination)
}

export type { Logger }
