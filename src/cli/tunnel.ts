// `mtls-ambassador tunnel forward|reverse --listen … --connect … --cert … --key … --ca …`: one tunnel from the
// command line, for quick use. Every key of a `tunnels:` entry is a flag (`allow_cn` → `--allow-cn`, repeatable for
// lists); the tunnel is validated like a configured one and run until SIGTERM (status listener off unless asked).
import { TunnelSchema } from '../config/tunnels.js'
import { UsageError, parseFlags, type FlagValues } from '../lib/cli-args.js'

type Kind = 'string' | 'boolean' | 'list' | 'integer'

/** Every tunnel key but `mode` (the subcommand) as a flag, with how its value is read. */
const KEYS: Array<[key: string, kind: Kind, doc: string]> = Object.entries(TunnelSchema.properties)
  .filter(([key]) => key !== 'mode')
  .map(([key, schema]) => {
    const { type, description } = schema as { type?: string, description?: string }
    const kind = type === 'array' ? 'list' : type === 'boolean' ? 'boolean' : type === 'integer' ? 'integer' : 'string'
    return [key, kind, description ?? '']
  })

const flag = (key: string): string => key.replaceAll('_', '-')

export const TUNNEL_USAGE = `usage: mtls-ambassador tunnel <forward|reverse> --listen ADDR --connect ADDR --cert FILE --key FILE --ca FILE
                              [options]

  forward   a plain listener (unix:/path, host:port — loopback by default — or systemd:NAME) whose connections go
            over mTLS to --connect (host:port), presenting --cert; the server must chain to --ca and carry
            --server-name (default: the connect host) or --server-uri (a SPIFFE ID)
  reverse   an mTLS listener (host:port or systemd:NAME) whose admitted connections go to --connect (unix:/path or
            host:port); say who may connect with --allow-cn/-ou/-dns/-uri/-ip/-spki-sha256 (repeatable) or --allow-all

options (the keys of a tunnels: entry, see the README):
${KEYS.map(([key, kind, doc]) => `  --${flag(key)}${kind === 'list' ? ' (repeatable)' : ''}\n      ${doc}`).join('\n')}
  --status-listen ADDR   plain-HTTP status listener (/healthz, /readyz, /metrics); default off
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace
  -h, --help             this help`

const OPTIONS = {
  ...Object.fromEntries(KEYS.map(([key, kind]) => [flag(key), { type: kind === 'boolean' ? 'boolean' : 'string', ...(kind === 'list' ? { multiple: true } : {}) }])),
  'status-listen': { type: 'string' },
  'log-level': { type: 'string' }
} as const

/** The tunnel entry and the settings overrides a command line stands for. */
export function tunnelFromArgs (argv: string[]): { help: true } | { help: false, overrides: Record<string, unknown> } {
  const [mode, ...rest] = argv
  if (mode === '--help' || mode === '-h' || mode === undefined) {
    if (mode === undefined) throw new UsageError('tunnel: say forward or reverse')
    return { help: true }
  }
  if (mode !== 'forward' && mode !== 'reverse') throw new UsageError(`tunnel: unknown mode '${mode}' (forward or reverse)`)
  const { values, help } = parseFlags(rest, OPTIONS as never, { command: `tunnel ${mode}` })
  if (help) return { help: true }
  const tunnel: Record<string, unknown> = { name: mode, mode }
  for (const [key, kind] of KEYS) {
    const v = (values as FlagValues)[flag(key)]
    if (v === undefined) continue
    if (kind === 'integer') {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`tunnel ${mode}: --${flag(key)} must be a whole number`)
      tunnel[key] = Number(v)
    } else tunnel[key] = v
  }
  const status = values['status-listen']
  const level = values['log-level']
  return {
    help: false,
    overrides: { tunnels: [tunnel], status_listen: typeof status === 'string' ? status : 'off', ...(typeof level === 'string' ? { log_level: level } : {}) }
  }
}
