// `mtls-ambassador certs …`: argument parsing, usage text and dispatch of the certificate commands.
// Returns an exit code (0 done, 1 failed, 2 bad command line: one line on stderr); never exits the process.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ca, demo, device, intermediate, server } from './cli-issue.js'
import { revoke } from './cli-revoke.js'
import { UsageError, type CliIo, type Values } from './cli-util.js'
import { parseArgsProblem } from '../../lib/cli-args.js'

export type { CliIo } from './cli-util.js'

type Options = NonNullable<ParseArgsConfig['options']>
const s = { type: 'string' } as const
const many = { type: 'string', multiple: true } as const
const flag = { type: 'boolean' } as const
const caFlags: Options = { 'ca-dir': s, 'ca-cert': s, 'ca-key': s }
const keyFlags: Options = { 'key-type': s, 'rsa-bits': s, days: s, cn: s, subject: s, force: flag }

interface Command {
  usage: string
  options: Options
  run: (v: Values, io: CliIo) => Promise<void>
}

const COMMANDS: Record<string, Command> = {
  demo: { usage: 'demo --out DIR [--force]', options: { out: s, force: flag }, run: demo },
  ca: { usage: 'ca --out DIR [--cn NAME] [--key-type ec|ec-p384|rsa|ed25519]', options: { out: s, ...keyFlags }, run: ca },
  intermediate: {
    usage: 'intermediate --ca-dir DIR --out DIR [--cn NAME] [--key-type T]',
    options: { out: s, ...caFlags, ...keyFlags },
    run: intermediate
  },
  server: {
    usage: 'server --ca-dir DIR --out DIR [--dns a,b] [--ip x,y] [--cn NAME] [--key-type T]',
    options: { out: s, dns: many, ip: many, ...caFlags, ...keyFlags },
    run: server
  },
  device: {
    usage: 'device --ca-dir DIR --out DIR --cn NAME [--key-type T] [--key FILE] [--san-dns a,b] [--san-uri U] ' +
      '[--san-email E] [--san-ip I]',
    options: { out: s, key: s, 'san-dns': many, 'san-ip': many, 'san-uri': many, 'san-email': many, ...caFlags, ...keyFlags },
    run: device
  },
  revoke: {
    usage: 'revoke --serial HEX [--denylist FILE] [--crl FILE --ca-dir DIR] [--crl-days N]',
    options: { serial: many, denylist: s, crl: s, 'crl-days': s, ...caFlags },
    run: revoke
  }
}

export const CERTS_USAGE = `Usage: mtls-ambassador certs <command> [options]

Commands:
${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}

Outputs:
  demo          DIR/root-ca/root.ca.{pem,key}, DIR/server/server.{crt,key}, DIR/server/ca.pem,
                DIR/tenant-ca/tenant.ca.{pem,key}, DIR/devices/device-{rsa,ec,ed25519}/device.{crt,key}
  ca            DIR/ca.pem, DIR/ca.key               intermediate  DIR/ca.pem (bundle, root first), DIR/ca.key
  server        DIR/server.crt (chain), DIR/server.key
  device        DIR/device.crt (chain), DIR/device.key (not written with --key FILE, which reuses a key)

Options:
  --ca-dir DIR      CA folder holding ca.pem+ca.key, tenant.ca.pem+tenant.ca.key or root.ca.pem+root.ca.key
  --ca-cert/--ca-key FILE   the signing CA as explicit files instead of --ca-dir
  --key-type T      rsa (2048 bits, --rsa-bits N), ec (P-256, the default), ec-p384 (P-384) or ed25519
  --days N          validity (defaults: CA 3650, server 397, device 3650)
  --subject DN      full subject, e.g. 'CN=x, O=y' (overrides --cn)
  --force           replace existing files
  --serial HEX      serial to revoke (repeatable; colons allowed); the denylist gets one lowercase hex a line,
                    the CRL is re-issued with its old serials, the denylist's and the new ones (--crl-days, 30)
`

function parse (command: Command, args: string[]): Values {
  try {
    const { values } = parseArgs({ args, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, strict: true })
    return values
  } catch (err) {
    throw new UsageError(parseArgsProblem(err) ?? (err as Error).message)
  }
}

/** A usage error as one line: `mtls-ambassador: certs <command>: <problem> (try --help)`. */
const usageLine = (where: string, problem: string): string =>
  `mtls-ambassador: ${where}: ${problem.split('\n')[0] ?? ''} (try --help)`

const stdio: CliIo = {
  out: (line) => { process.stdout.write(line + '\n') },
  err: (line) => { process.stderr.write(line + '\n') }
}

/** Runs `certs <command> …` (argv without the `certs` word); returns the exit code. */
export async function runCertsCli (argv: string[], io: CliIo = stdio): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined) {
    io.err(usageLine('certs', 'missing command'))
    return 2
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(CERTS_USAGE)
    return 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    io.err(usageLine('certs', `unknown command '${name}'`))
    return 2
  }
  try {
    const values = parse(command, args)
    if (values.help === true) {
      io.out(`Usage: mtls-ambassador certs ${command.usage}\n\n${CERTS_USAGE}`)
      return 0
    }
    await command.run(values, io)
    return 0
  } catch (err) {
    if (!(err instanceof UsageError)) {
      io.err(`certs ${name}: ${(err as Error).message}`)
      return 1
    }
    io.err(usageLine(`certs ${name}`, err.message))
    return 2
  }
}
