// Loads the configuration once: defaults ← YAML file ← MTLS_* environment; validates the whole result (settings,
// gateway cross-checks when the gateway is configured, every tunnel) and fails with one error listing every problem.
// The only module that reads process.env.
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { ConfigSchema, FIELDS, LIST_KEYS, SECRET_KEYS, type ConfigKey, type Settings } from './schema.js'
import { buildConfig, gatewayConfigured, splitList, type Config } from './model.js'
import { tunnelListen, tunnelProblems } from './tunnel-checks.js'
import { parseListen } from './listen.js'
import { StartupErrors } from '../errors.js'

export interface LoadOptions {
  /** Path of a YAML file; when absent, MTLS_CONFIG names one (optional). */
  file?: string
  /** Environment to read (defaults to process.env). */
  env?: NodeJS.ProcessEnv
  /** Values that win over file and environment (tests, CLI flags). */
  overrides?: Partial<Record<ConfigKey, unknown>>
  /** Only the overrides and defaults count: no file, no MTLS_* variables (`tunnel` on the command line). */
  overridesOnly?: boolean
}

const KEYS = Object.keys(FIELDS) as ConfigKey[]
const CROSS_CHECKED: readonly string[] = ['mender_backend', 'mender_user', 'mender_pass', 'mender_token', 'listen', 'status_listen', 'sni', 'tenants', 'tunnels', 'workers']

function readFile (file: string, problems: string[]): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    problems.push(`config file ${file}: ${(err as Error).message}`)
    return {}
  }
  try {
    const doc: unknown = parseYaml(text)
    if (doc === null || doc === undefined) return {}
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level must be a mapping')
    return doc as Record<string, unknown>
  } catch (err) {
    problems.push(`config file ${file}: ${(err as Error).message}`)
    return {}
  }
}

function fromEnv (env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of KEYS) {
    const value = env[FIELDS[key].env]
    if (value !== undefined) out[key] = value
  }
  return out
}

/** Env strings and YAML scalars → the field's type; anything doubtful is left as is for validation to report
 * (TypeBox's own conversion would truncate `2.5` to 2 and read `true` as the integer 1). */
function coerce (key: string, value: unknown): unknown {
  if (!(key in FIELDS)) return value
  if (LIST_KEYS.includes(key as ConfigKey) && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.join(',')
  }
  const kind = (FIELDS[key as ConfigKey].schema as TSchema).type as unknown
  if (kind === 'array' && typeof value === 'string') {
    try { return JSON.parse(value) as unknown } catch { return value }
  }
  if (kind === 'integer') return typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value
  if (kind === 'boolean') {
    const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined
    return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : value
  }
  return typeof value === 'number' ? String(value) : value
}

function merge (...sources: Array<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) if (value !== undefined) out[key] = coerce(key, value)
  }
  return out
}

function tenantChecks (c: Settings, problems: string[]): void {
  const names = new Set<string>(['default'])
  const sni = new Map<string, string>()
  const claim = (tenant: string, name: string): void => {
    const key = name.toLowerCase()
    const owner = sni.get(key)
    if (owner !== undefined) problems.push(`sni name ${name} is claimed by tenants ${owner} and ${tenant}`)
    sni.set(key, tenant)
  }
  splitList(c.sni).forEach((n) => claim('default', n))
  for (const t of c.tenants) {
    if (names.has(t.name)) problems.push(`tenants: name ${t.name} is used twice (default is the top-level tenant)`)
    names.add(t.name)
    const hasUser = t.mender_user !== '' && t.mender_pass !== ''
    if (hasUser === (t.mender_token !== '')) problems.push(`tenants.${t.name}: set either mender_user and mender_pass, or mender_token`)
    t.sni.forEach((n) => claim(t.name, n))
  }
}

function gatewayChecks (c: Settings, problems: string[]): void {
  if (c.mender_backend === '') problems.push('mender_backend (MTLS_MENDER_BACKEND) is required')
  else {
    try {
      const u = new URL(c.mender_backend)
      if (u.protocol !== 'https:' && u.protocol !== 'http:') problems.push('mender_backend must be an http(s) URL')
    } catch {
      problems.push(`mender_backend is not a URL: ${c.mender_backend}`)
    }
  }
  const hasUser = c.mender_user !== '' || c.mender_pass !== ''
  if (c.mender_token === '' && (c.mender_user === '' || c.mender_pass === '')) {
    problems.push('management credentials: set mender_user and mender_pass (MTLS_MENDER_USER/MTLS_MENDER_PASS) or mender_token (MTLS_MENDER_TOKEN)')
  } else if (c.mender_token !== '' && hasUser) {
    problems.push('management credentials: set either mender_user/mender_pass or mender_token, not both')
  }
  tenantChecks(c, problems)
  if (parseListen(c.listen) === undefined) problems.push(`listen is not a port or host:port: ${c.listen}`)
}

function crossChecks (c: Settings, problems: string[]): void {
  if (c.status_listen !== 'off' && parseListen(c.status_listen) === undefined) {
    problems.push(`status_listen is not a port or host:port: ${c.status_listen}`)
  }
  if (gatewayConfigured(c)) gatewayChecks(c, problems)
  problems.push(...tunnelProblems(c.tunnels))
  workerChecks(c, problems)
}

/** Workers share TCP listeners only: a Unix socket or an inherited one has a single owner (`auto` then means 1). */
function workerChecks (c: Settings, problems: string[]): void {
  if (c.workers === 'auto' || Number(c.workers) <= 1) return
  for (const t of c.tunnels) {
    const at = tunnelListen(t)
    if (at.ok && at.value.kind !== 'tcp') {
      problems.push(`workers ${c.workers}: tunnel ${t.name} listens on a ${at.value.kind} socket, which only one process can serve; use workers: 1 (or auto)`)
    }
  }
}

/** Loads and validates the flat settings (frozen); throws MTLS_ERR_CONFIG_INVALID listing every problem. */
export function loadSettings (opts: LoadOptions = {}): Settings {
  const env = opts.env ?? process.env
  const problems: string[] = []
  const file = opts.overridesOnly === true ? undefined : opts.file ?? env.MTLS_CONFIG
  const fromFile = file !== undefined && file !== '' ? readFile(file, problems) : {}
  const merged = merge(fromFile, opts.overridesOnly === true ? {} : fromEnv(env), opts.overrides ?? {})
  const value = Value.Default(ConfigSchema, merged) as Record<string, unknown>
  const invalid = new Set<string>()
  for (const e of Value.Errors(ConfigSchema, value)) {
    const [key = '', ...inner] = e.path.split('/').slice(1)
    const where = key in FIELDS ? `${key} (${FIELDS[key as ConfigKey].env})` : (key === '' ? 'config' : `unknown key ${key}`)
    // inside a list of objects: name the item and the field (`tunnels (MTLS_TUNNELS) [0].listen: …`)
    const at = inner.map((p) => /^\d+$/.test(p) ? `[${p}]` : `.${p}`).join('')
    problems.push(`${where}${at === '' ? '' : ` ${at}`}: ${e.message}`)
    invalid.add(key)
  }
  // the cross checks read only string fields: run them unless one of those is itself mistyped
  if (!CROSS_CHECKED.some((k) => invalid.has(k))) crossChecks(value as Settings, problems)
  if (problems.length > 0) throw new StartupErrors.CONFIG_INVALID([...new Set(problems)].map((p) => `  - ${p}`).join('\n'))
  return Object.freeze(value as Settings)
}

/** Loads, validates and sections the configuration (deep-frozen); throws MTLS_ERR_CONFIG_INVALID. */
export function loadConfig (opts: LoadOptions = {}): Config {
  return loadAll(opts).config
}

/** The validated settings (for the masked startup log) and the configuration built from them. */
export function loadAll (opts: LoadOptions = {}): { settings: Settings, config: Config } {
  const settings = loadSettings(opts)
  return { settings, config: buildConfig(settings, opts.env ?? process.env) }
}

/** The configuration with secrets replaced by `***`, for the startup log and `check-config`. */
export function maskedConfig (c: Settings): Record<string, unknown> {
  const mask = (v: string): string => v === '' ? '' : '***'
  const out: Record<string, unknown> = { ...c }
  for (const key of SECRET_KEYS) if (out[key] !== '') out[key] = '***'
  out.tenants = c.tenants.map((t) => ({
    ...t, mender_pass: mask(t.mender_pass), mender_token: mask(t.mender_token), tenant_token: mask(t.tenant_token)
  }))
  return out
}
