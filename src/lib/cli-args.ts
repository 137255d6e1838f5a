// Command-line plumbing shared by the subcommands: strict flag parsing with -h/--help, usage errors (code
// MTLS_ERR_USAGE: one line on stderr, exit 2, never a stack trace) and port flags.
import { parseArgs, type ParseArgsConfig } from 'node:util'

export const USAGE_ERROR = 'MTLS_ERR_USAGE'

/** A mistake on the command line (unknown flag or command, missing or bad value): exit 2. */
export class UsageError extends Error {
  readonly code = USAGE_ERROR
}

type Options = NonNullable<ParseArgsConfig['options']>
export type FlagValues = Record<string, string | boolean | string[] | undefined>

/** Node's parseArgs messages, first sentence only and lower-cased: "unknown option '--bogus'". */
export function parseArgsProblem (err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return undefined
  const first = (err as Error).message.split(/\.(?:\s|$)/)[0] ?? code
  return first.charAt(0).toLowerCase() + first.slice(1)
}

/** The one-line problem of a usage error (ours or parseArgs'), undefined for any other error. */
export function usageProblem (err: unknown): string | undefined {
  if ((err as { code?: unknown }).code === USAGE_ERROR) return (err as Error).message.split('\n')[0]
  return parseArgsProblem(err)
}

/**
 * Parses the flags of `command` strictly (no positionals unless `positionals`), with -h/--help; parse errors become
 * UsageErrors ("demo: unknown option '--bogus'").
 */
export function parseFlags (
  args: string[], options: Options, o: { command: string, positionals?: boolean }
): { values: FlagValues, help: boolean, positionals: string[] } {
  try {
    const all: Options = { ...options, help: { type: 'boolean', short: 'h' } }
    const parsed = parseArgs({ args, options: all, strict: true, allowPositionals: o.positionals === true })
    const { help, ...values } = parsed.values as FlagValues
    return { values, help: help === true, positionals: parsed.positionals }
  } catch (err) {
    throw new UsageError(`${o.command}: ${parseArgsProblem(err) ?? (err as Error).message}`)
  }
}

/** A TCP port flag of `command`: an integer 0–65535 (0: any free port). */
export function portFlag (command: string, values: FlagValues, name: string, fallback: number): number {
  const value = values[name]
  if (value === undefined) return fallback
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!(n >= 0 && n <= 65535)) {
    throw new UsageError(`${command}: --${name} must be a port 0-65535, not ${JSON.stringify(value)}`)
  }
  return n
}

/** Whether the argument list asks for help (before any `--`). */
export function wantsHelp (args: string[]): boolean {
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}
