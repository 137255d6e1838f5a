// Command line of the standalone simulator: parses the flags into SimulatorOptions, starts it, prints its URL and
// runs until SIGINT/SIGTERM. Never exits the process itself; bad flags throw a UsageError (MTLS_ERR_USAGE).
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { startSimulator } from './start.js'
import { UsageError, parseArgsProblem, wantsHelp } from '../../lib/cli-args.js'
import type { SimulatorOptions, SimulatorUser } from './types.js'

export const SIMULATOR_USAGE = `Usage: mtls-ambassador sim [options]

Runs the Mender simulator until SIGINT/SIGTERM and prints its URL.

  --host <addr>                  listen address (default 127.0.0.1)
  --port <n>                     listen port (default 0: any free port)
  --tls-cert <file> --tls-key <file>   serve HTTPS with this PEM certificate and key
  --user <email>:<password>      a management user (repeatable; default mtls@example.com)
  --tenant-user <tenant>:<email>:<password>   a user of a tenant (repeatable; implies --multi-tenant)
  --multi-tenant                 tenant tokens map to tenants; JWTs carry mender.tenant
  --tenant-token <token>=<tenant>   a tenant token (repeatable; implies --multi-tenant)
  --user-token-lifetime <sec>    lifetime of login JWTs (default 604800)
  --device-token-lifetime <sec>  lifetime of device JWTs (default 604800)
  --logger                       log every request
  --request-log <n>              keep the latest n requests for /__sim/requests (default 1000)
  -h, --help                     this help`

function splitOnce (text: string, sep: string, what: string): [string, string] {
  const i = text.indexOf(sep)
  if (i <= 0 || i === text.length - 1) throw new Error(`invalid ${what}: ${JSON.stringify(text)}`)
  return [text.slice(0, i), text.slice(i + 1)]
}

function toInt (value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^-?\d+$/.test(value)) throw new Error(`invalid ${what}: ${JSON.stringify(value)}`)
  return Number(value)
}

function nonNegative (n: number, what: string): number {
  if (n < 0) throw new Error(`invalid ${what}: ${n}`)
  return n
}

function users (values: { user?: string[], 'tenant-user'?: string[] }): SimulatorUser[] | undefined {
  const out: SimulatorUser[] = (values.user ?? []).map((u) => {
    const [email, password] = splitOnce(u, ':', '--user (expected email:password)')
    return { email, password }
  })
  for (const u of values['tenant-user'] ?? []) {
    const [tenant, rest] = splitOnce(u, ':', '--tenant-user (expected tenant:email:password)')
    const [email, password] = splitOnce(rest, ':', '--tenant-user (expected tenant:email:password)')
    out.push({ email, password, tenant })
  }
  return out.length > 0 ? out : undefined
}

/** Parses the simulator's flags (reading the TLS files); throws with a message on bad arguments. */
export async function parseSimulatorArgs (argv: string[]): Promise<SimulatorOptions> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      user: { type: 'string', multiple: true },
      'tenant-user': { type: 'string', multiple: true },
      'multi-tenant': { type: 'boolean' },
      'tenant-token': { type: 'string', multiple: true },
      'user-token-lifetime': { type: 'string' },
      'device-token-lifetime': { type: 'string' },
      logger: { type: 'boolean' },
      'request-log': { type: 'string' }
    },
    strict: true
  })
  const opts: SimulatorOptions = { host: values.host ?? '127.0.0.1', port: toInt(values.port, '--port') ?? 0 }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new Error('--tls-cert and --tls-key go together')
  }
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    opts.tls = { cert: await readFile(values['tls-cert'], 'utf8'), key: await readFile(values['tls-key'], 'utf8') }
  }
  const list = users(values)
  if (list !== undefined) opts.users = list
  const tokens = (values['tenant-token'] ?? []).map((t) => splitOnce(t, '=', '--tenant-token (expected token=tenant)'))
  if (tokens.length > 0) opts.tenantTokens = Object.fromEntries(tokens)
  opts.multiTenant = values['multi-tenant'] === true || tokens.length > 0 || (values['tenant-user'] ?? []).length > 0
  const userLife = toInt(values['user-token-lifetime'], '--user-token-lifetime')
  const deviceLife = toInt(values['device-token-lifetime'], '--device-token-lifetime')
  if (userLife !== undefined) opts.userTokenLifetimeSec = userLife
  if (deviceLife !== undefined) opts.deviceTokenLifetimeSec = deviceLife
  opts.logger = values.logger === true
  const requestLog = toInt(values['request-log'], '--request-log')
  if (requestLog !== undefined) opts.requestLog = nonNegative(requestLog, '--request-log')
  return opts
}

/** A promise of the first SIGINT or SIGTERM (listeners are in place as soon as this returns) and its cancel. */
function stopSignal (): { stopped: Promise<void>, cancel: () => void } {
  let cancel = (): void => {}
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      cancel()
      resolve()
    }
    cancel = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  return { stopped, cancel }
}

/** A bad command line (not a file that cannot be read) as a usage error: one line, exit 2. */
function asUsage (err: unknown): unknown {
  const code = (err as { code?: unknown }).code
  if (code !== undefined && !(typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) return err
  return new UsageError(`sim: ${parseArgsProblem(err) ?? (err as Error).message}`)
}

/** Runs the simulator until SIGINT or SIGTERM, then closes it and resolves; `--help` prints the usage. */
export async function runSimulatorCli (argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (wantsHelp(argv)) {
    out.write(SIMULATOR_USAGE + '\n')
    return
  }
  const opts = await parseSimulatorArgs(argv).catch((err: unknown) => { throw asUsage(err) })
  const signal = stopSignal()
  let sim
  try {
    sim = await startSimulator(opts)
  } catch (err) {
    signal.cancel()
    throw err
  }
  out.write(`Mender simulator listening on ${sim.url}\n`)
  await signal.stopped
  await sim.close()
}
