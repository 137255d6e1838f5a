#!/usr/bin/env node
// The `mtls-ambassador` command: serve (default), check-config, certs, sim, demo, version.
// Subcommands load only what they need; exit codes are set, never forced (only server.ts exits).
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'

const USAGE = `usage: mtls-ambassador <command> [options]

commands:
  serve [--config FILE]         run the gateway (default command); MTLS_* env overrides the file
  check-config [--config FILE]  validate configuration and TLS material, print the effective config (secrets masked)
  certs <sub> …                 create a CA, server and device certificates, revoke (certs --help)
  sim [--port N] …              run the Mender simulator (sim --help)
  demo [--certs DIR]            generate demo certs if missing, start the simulator and the gateway
  version                       print the version`

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function configFile (argv: string[]): string | undefined {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true })
  return values.config
}

async function checkConfig (argv: string[]): Promise<number> {
  const { loadConfig, maskedConfig } = await import('./config/load.js')
  const { loadTlsMaterial } = await import('./tls/material.js')
  try {
    const config = loadConfig({ file: configFile(argv) })
    loadTlsMaterial(config)
    process.stdout.write(JSON.stringify(maskedConfig(config), null, 2) + '\nconfiguration ok\n')
    return 0
  } catch (err) {
    process.stderr.write(`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}\n`)
    return 1
  }
}

async function main (argv: string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  switch (command) {
    case 'serve': {
      const { serve } = await import('./server.js')
      await serve({ file: configFile(rest) })
      return undefined
    }
    case 'check-config': return await checkConfig(rest)
    case 'certs': return await (await import('./pki/cli.js')).runCertsCli(rest)
    case 'sim': {
      await (await import('./simulator/index.js')).runSimulatorCli(rest)
      return undefined
    }
    case 'demo': {
      await (await import('./demo.js')).runDemo(rest)
      return undefined
    }
    case 'version': case '--version': case '-v':
      process.stdout.write(version() + '\n')
      return 0
    case 'help': case '--help': case '-h':
      process.stdout.write(USAGE + '\n')
      return 0
    default:
      if (command.startsWith('-')) return await main(['serve', ...argv])
      process.stderr.write(`unknown command: ${command}\n${USAGE}\n`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
