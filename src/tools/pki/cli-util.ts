// Shared pieces of the `certs` commands: usage errors, list/number/key-type flags, loading the signing CA from
// disk, and writing outputs without silently replacing existing files.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isKeyType } from './keys.js'
import { loadCa } from './load-ca.js'
import { existing, exists, writeCertFile, writeKeyFile } from './files.js'
import type { Ca, KeyType } from './types.js'

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
}

export type Values = Record<string, string | boolean | string[] | undefined>

/** A mistake in the command line: exit code 2 and the usage text. */
export class UsageError extends Error {}

/** File names a CA folder may hold (certificate or bundle, key), tried in order. */
export const CA_FILE_NAMES: Array<[string, string]> = [
  ['ca.pem', 'ca.key'], ['tenant.ca.pem', 'tenant.ca.key'], ['root.ca.pem', 'root.ca.key']
]

export function str (v: Values, name: string): string | undefined {
  const value = v[name]
  return typeof value === 'string' ? value : undefined
}

export function required (v: Values, name: string): string {
  const value = str(v, name)
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`)
  return value
}

/** Values of a repeatable, comma-separated flag (`--dns a,b --dns c`). */
export function list (v: Values, name: string): string[] {
  const value = v[name]
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
  return items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')
}

export function keyType (v: Values, fallback: KeyType): KeyType {
  const value = str(v, 'key-type') ?? fallback
  if (!isKeyType(value)) throw new UsageError(`--key-type must be rsa, ec, ec-p384 or ed25519, not ${value}`)
  return value
}

export function positiveInt (v: Values, name: string): number | undefined {
  const value = str(v, name)
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive whole number`)
  return n
}

/** `notAfter` from `--days`, if given. */
export function daysFromNow (v: Values): Date | undefined {
  const days = positiveInt(v, 'days')
  return days === undefined ? undefined : new Date(Date.now() + days * 24 * 3600 * 1000)
}

/** The signing CA: `--ca-cert` + `--ca-key`, or the first known file pair in `--ca-dir`. */
export async function loadCaFromFlags (v: Values): Promise<Ca> {
  const certPath = str(v, 'ca-cert')
  const keyPath = str(v, 'ca-key')
  if (certPath !== undefined && keyPath !== undefined) {
    return await loadCa(await readFile(certPath, 'utf8'), await readFile(keyPath, 'utf8'))
  }
  const dir = required(v, 'ca-dir')
  for (const [cert, key] of CA_FILE_NAMES) {
    if (await exists(join(dir, cert)) && await exists(join(dir, key))) {
      return await loadCa(await readFile(join(dir, cert), 'utf8'), await readFile(join(dir, key), 'utf8'))
    }
  }
  const names = CA_FILE_NAMES.map(([c, k]) => `${c}+${k}`).join(', ')
  throw new Error(`no CA in ${dir}: expected one of ${names}`)
}

export interface Output { path: string, pem: string, secret?: boolean }

/** Writes every output, refusing (before writing anything) to replace an existing file unless `force`. */
export async function writeOutputs (io: CliIo, outputs: Output[], force: boolean): Promise<void> {
  const found = force ? [] : await existing(outputs.map((o) => o.path))
  if (found.length > 0) throw new Error(`refusing to overwrite ${found.join(', ')} (use --force)`)
  for (const o of outputs) {
    await (o.secret === true ? writeKeyFile(o.path, o.pem) : writeCertFile(o.path, o.pem))
    io.out(`wrote ${o.path}${o.secret === true ? ' (mode 0600)' : ''}`)
  }
}
