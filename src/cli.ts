#!/usr/bin/env node
// The `mtls-ambassador` command, one table of subcommands: serve (default), check-config, certs, sim, demo, version,
// help. Every subcommand answers -h/--help (stdout, exit 0); a usage error is one line on stderr and exit 2; a port
// that cannot be bound is one line and exit 1. Subcommands load only what they need; exit codes are set, never
// forced (only server.ts exits).
import { readFileSync } from 'node:fs'
import { UsageError, parseFlags, usageProblem } from './lib/cli-args.js'

interface Command {
  /** `name args`, as the top-level usage lists it. */
  synopsis: string
  summary: string
  /** Its own usage text; undefined when the command prints its own (`certs --help`, …). */
  usage?: string
  /** Runs it: an exit code, or undefined while it keeps running (serve). */
  run: (argv: string[]) => Promise<number | undefined>
}

const CONFIG_USAGE = (name: string, what: string): string => `usage: mtls-ambassador ${name} [--config FILE]

${what}

options:
  -c, --config FILE   YAML configuration file (or MTLS_CONFIG); MTLS_* environment variables override it
  -h, --help          this help`

const configFlag = { config: { type: 'string', short: 'c' } } as const

const say = (text: string): number => {
  process.stdout.write(text + '\n')
  return 0
}

/** The config file named by --config; undefined when --help was asked for. */
function configFile (argv: string[], command: string): { file?: string } | undefined {
  const { values, help } = parseFlags(argv, configFlag, { command })
  if (help) return undefined
  return { file: typeof values.config === 'string' ? values.config : undefined }
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

async function serve (argv: string[]): Promise<number | undefined> {
  const opts = configFile(argv, 'serve')
  if (opts === undefined) return say(COMMANDS.serve?.usage ?? '')
  await (await import('./server.js')).serve(opts)
  return undefined
}

async function checkConfig (argv: string[]): Promise<number> {
  const opts = configFile(argv, 'check-config')
  if (opts === undefined) return say(COMMANDS['check-config']?.usage ?? '')
  const { loadSettings, maskedConfig } = await import('./config/load.js')
  const { checkTrust } = await import('./cli/check-trust.js')
  try {
    const settings = loadSettings(opts)
    await checkTrust(settings)
    process.stdout.write(JSON.stringify(maskedConfig(settings), null, 2) + '\nconfiguration ok\n')
    return 0
  } catch (err) {
    process.stderr.write(`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}\n`)
    return 1
  }
}

/** `demo`: the gateway demo, or `demo dbus` / `demo sidecar`, the tunnel patterns. */
async function demo (argv: string[]): Promise<number> {
  const [pattern, ...rest] = argv
  if (pattern === 'dbus') return await (await import('./tools/demo-tunnel/dbus.js')).runDbusDemo(rest)
  if (pattern === 'sidecar') return await (await import('./tools/demo-tunnel/sidecar.js')).runSidecarDemo(rest)
  return await (await import('./tools/demo.js')).runDemo(argv)
}

/** `help [command]`: the usage of mtls-ambassador or of one command. */
async function help (argv: string[]): Promise<number> {
  const { positionals, help: own } = parseFlags(argv, {}, { command: 'help', positionals: true })
  const [name, ...extra] = positionals
  if (own) return say(COMMANDS.help?.usage ?? '')
  if (extra.length > 0) throw new UsageError(`help: unexpected argument '${extra[0] ?? ''}'`)
  if (name === undefined) return say(usage())
  const command = COMMANDS[name]
  if (command === undefined) throw new UsageError(`help: unknown command '${name}'`)
  return command.usage !== undefined ? say(command.usage) : await command.run(['--help']) ?? 0
}

const COMMANDS: Record<string, Command> = {
  serve: {
    synopsis: 'serve [--config FILE]',
    summary: 'run the configured modes (default command); MTLS_* env overrides the file',
    usage: CONFIG_USAGE('serve',
      'Runs the gateway and the configured tunnels until SIGTERM/SIGINT (drains in-flight requests; SIGHUP reloads\n' +
      'certificates, CA bundles, CRLs and denylists). A port already in use exits 1 (MTLS_ERR_LISTEN).'),
    run: serve
  },
  'check-config': {
    synopsis: 'check-config [--config FILE]',
    summary: 'validate configuration and TLS material, print the effective config (secrets masked)',
    usage: CONFIG_USAGE('check-config',
      'Validates the configuration and the TLS material without starting, and prints the effective configuration\n' +
      'with secrets masked. Exit 0 when valid, 1 otherwise.'),
    run: checkConfig
  },
  certs: {
    synopsis: 'certs <command> …',
    summary: 'create a CA, server and device certificates, revoke (certs --help)',
    run: async (argv) => await (await import('./tools/pki/cli.js')).runCertsCli(argv)
  },
  sim: {
    synopsis: 'sim [--port N] …',
    summary: 'run the Mender simulator (sim --help)',
    run: async (argv) => { await (await import('./tools/simulator/index.js')).runSimulatorCli(argv); return 0 }
  },
  tunnel: {
    synopsis: 'tunnel <forward|reverse> …',
    summary: 'run one mTLS tunnel from the command line (tunnel --help)',
    run: async (argv) => {
      const { TUNNEL_USAGE, tunnelFromArgs } = await import('./cli/tunnel.js')
      const parsed = tunnelFromArgs(argv)
      if (parsed.help) return say(TUNNEL_USAGE)
      await (await import('./server.js')).serve({ overrides: parsed.overrides, overridesOnly: true })
      return undefined
    }
  },
  demo: {
    synopsis: 'demo [dbus|sidecar] [--port N] …',
    summary: 'demo certs, the simulator and the gateway on 127.0.0.1; `dbus`, `sidecar`: the tunnel patterns (demo --help)',
    run: demo
  },
  version: {
    synopsis: 'version',
    summary: 'print the version',
    usage: 'usage: mtls-ambassador version\n\nPrints the version.',
    run: async (argv) => parseFlags(argv, {}, { command: 'version' }).help ? say(COMMANDS.version?.usage ?? '') : say(version())
  },
  help: {
    synopsis: 'help [command]',
    summary: 'this help, or a command\'s',
    usage: 'usage: mtls-ambassador help [command]\n\nPrints the usage of mtls-ambassador or of one command.',
    run: help
  }
}

/** The top-level usage, listing the command table. */
function usage (): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.synopsis.length)) + 2
  const lines = Object.values(COMMANDS).map((c) => `  ${c.synopsis.padEnd(width)}${c.summary}`)
  return `usage: mtls-ambassador <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    'Every command answers -h/--help. Exit codes: 0 done, 1 failed, 2 bad command line.'
}

async function main (argv: string[]): Promise<number | undefined> {
  const [name = 'serve', ...rest] = argv
  if (name === '--help' || name === '-h') return say(usage())
  if (name === '--version' || name === '-v') return say(version())
  const command = COMMANDS[name]
  if (command !== undefined) return await command.run(rest)
  if (name.startsWith('-')) return await serve(argv)
  throw new UsageError(`unknown command '${name}'`)
}

/** One line for any failure: the problem of a usage error (exit 2), otherwise the code and message (exit 1). */
async function report (err: unknown): Promise<number> {
  const problem = usageProblem(err)
  if (problem !== undefined) {
    process.stderr.write(`mtls-ambassador: ${problem} (try --help)\n`)
    return 2
  }
  const { isListenFailure, listenError } = await import('./net/listen-error.js')
  const e = isListenFailure(err) ? listenError(err) : err as { code?: string, message?: string }
  const code = typeof e.code === 'string' ? ` (${e.code})` : ''
  process.stderr.write(`mtls-ambassador: ${e.message ?? String(err)}${code}\n`)
  return 1
}

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code
}, async (err: unknown) => {
  process.exitCode = await report(err)
})
