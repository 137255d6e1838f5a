#!/usr/bin/env node
// The `mtls-ambassador` command: serve (default), check-config, certs, sim, demo, version, help. Every subcommand
// answers -h/--help (stdout, exit 0); a usage error is one line on stderr and exit 2; a port that cannot be bound is
// one line and exit 1. Subcommands load only what they need; exit codes are set, never forced (only server.ts exits).
import { readFileSync } from 'node:fs'
import { UsageError, parseFlags, usageProblem } from './lib/cli-args.js'

const USAGE = `usage: mtls-ambassador <command> [options]

commands:
  serve [--config FILE]         run the gateway (default command); MTLS_* env overrides the file
  check-config [--config FILE]  validate configuration and TLS material, print the effective config (secrets masked)
  certs <command> …             create a CA, server and device certificates, revoke (certs --help)
  sim [--port N] …              run the Mender simulator (sim --help)
  demo [--port N] …             demo certs, the simulator and the gateway on 127.0.0.1 (demo --help)
  version                       print the version
  help [command]                this help, or a command's

Every command answers -h/--help. Exit codes: 0 done, 1 failed, 2 bad command line.`

const CONFIG_USAGE = (name: string, what: string): string => `usage: mtls-ambassador ${name} [--config FILE]

${what}

options:
  -c, --config FILE   YAML configuration file (or MTLS_CONFIG); MTLS_* environment variables override it
  -h, --help          this help`

const SERVE_USAGE = CONFIG_USAGE('serve',
  'Runs the gateway until SIGTERM/SIGINT (drains in-flight requests; SIGHUP reloads certificates, CA bundles,\n' +
  'CRLs and the denylist). A port already in use exits 1 (MTLS_ERR_LISTEN).')
const CHECK_USAGE = CONFIG_USAGE('check-config',
  'Validates the configuration and the TLS material without starting, and prints the effective configuration\n' +
  'with secrets masked. Exit 0 when valid, 1 otherwise.')
const VERSION_USAGE = 'usage: mtls-ambassador version\n\nPrints the version.'
const HELP_USAGE = 'usage: mtls-ambassador help [command]\n\nPrints the usage of mtls-ambassador or of one command.'

const configFlag = { config: { type: 'string', short: 'c' } } as const

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

const say = (text: string): number => {
  process.stdout.write(text + '\n')
  return 0
}

/** The config file named by --config; undefined after printing the usage for --help. */
function configFile (argv: string[], command: string): { file?: string } | undefined {
  const { values, help } = parseFlags(argv, configFlag, { command })
  if (help) return undefined
  return { file: typeof values.config === 'string' ? values.config : undefined }
}

async function checkConfig (argv: string[]): Promise<number> {
  const opts = configFile(argv, 'check-config')
  if (opts === undefined) return say(CHECK_USAGE)
  const { loadSettings, maskedConfig } = await import('./config/load.js')
  const { checkTrust } = await import('./check-trust.js')
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

/** `help [command]`: the usage of one command (certs and sim print their own). */
async function help (argv: string[]): Promise<number> {
  const { positionals, help: own } = parseFlags(argv, {}, { command: 'help', positionals: true })
  const [name, ...extra] = positionals
  if (own) return say(HELP_USAGE)
  if (extra.length > 0) throw new UsageError(`help: unexpected argument '${extra[0] ?? ''}'`)
  if (name === undefined) return say(USAGE)
  if (name === 'certs' || name === 'sim' || name === 'demo') return await main([name, '--help']) ?? 0
  const usage: Record<string, string> = {
    serve: SERVE_USAGE, 'check-config': CHECK_USAGE, version: VERSION_USAGE, help: HELP_USAGE
  }
  if (usage[name] === undefined) throw new UsageError(`help: unknown command '${name}'`)
  return say(usage[name])
}

async function main (argv: string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  switch (command) {
    case 'serve': {
      const opts = configFile(rest, 'serve')
      if (opts === undefined) return say(SERVE_USAGE)
      await (await import('./server.js')).serve(opts)
      return undefined
    }
    case 'check-config': return await checkConfig(rest)
    case 'certs': return await (await import('./tools/pki/cli.js')).runCertsCli(rest)
    case 'sim': {
      await (await import('./tools/simulator/index.js')).runSimulatorCli(rest)
      return 0
    }
    case 'demo': return await (await import('./tools/demo.js')).runDemo(rest)
    case 'version': case '--version': case '-v':
      return parseFlags(rest, {}, { command: 'version' }).help ? say(VERSION_USAGE) : say(version())
    case 'help': return await help(rest)
    case '--help': case '-h': return say(USAGE)
    default:
      if (command.startsWith('-')) return await main(['serve', ...argv])
      throw new UsageError(`unknown command '${command}'`)
  }
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
