// `mtls-ambassador demo`: demo PKI (generated when missing), an in-process Mender simulator and the gateway wired
// to it, then the commands to try printed. Binds loopback unless --host says otherwise; runs until SIGTERM/SIGINT.
import { relative } from 'node:path'
import { writeDemoPki, type DemoPkiLayout } from './pki/index.js'
import { DEFAULT_USER, startSimulator, type Simulator } from './simulator/index.js'
import { loadConfig } from '../config/load.js'
import { createLogger } from '../observe/logger.js'
import { startServer } from '../server.js'
import { parseFlags, portFlag } from '../lib/cli-args.js'
import { hostPort, listenError } from '../net/listen-error.js'

export const DEMO_USAGE = `usage: mtls-ambassador demo [options]

Generates demo certificates when missing, starts the Mender simulator and the gateway wired to it, and prints the
commands to try. Runs until SIGTERM/SIGINT. \`demo dbus\` and \`demo sidecar\` show the tunnel patterns instead
(the D-Bus double proxy, the sidecar pair; each answers --help).

options:
  --certs DIR         demo PKI folder (default certs; reused when complete)
  --host ADDR         address of the mTLS and status listeners (default 127.0.0.1; 0.0.0.0 for every interface)
  --port N            mTLS port (default 8080)
  --status-port N     plain-HTTP status port (default 8081; 0 = any free port)
  --sim-port N        Mender simulator port, always on 127.0.0.1 (default 0: any free port)
  -h, --help          this help`

const SIM_HOST = '127.0.0.1'
const s = { type: 'string' } as const

export interface DemoFlags { certs: string, host: string, port: number, statusPort: number, simPort: number }

/** The demo's flags; undefined when --help was asked for. Throws a UsageError on a bad command line. */
export function parseDemoFlags (argv: string[]): DemoFlags | undefined {
  const options = { certs: s, host: s, port: s, 'status-port': s, 'sim-port': s }
  const { values: v, help } = parseFlags(argv, options, { command: 'demo' })
  if (help) return undefined
  const host = typeof v.host === 'string' && v.host !== '' ? v.host : '127.0.0.1'
  return {
    certs: typeof v.certs === 'string' ? v.certs : 'certs',
    host,
    port: portFlag('demo', v, 'port', 8080),
    statusPort: portFlag('demo', v, 'status-port', 8081),
    simPort: portFlag('demo', v, 'sim-port', 0)
  }
}

/** A promise of the first SIGINT or SIGTERM. */
export async function stopSignal (): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

function banner (pki: DemoPkiLayout, sim: Simulator, port: string, listening: string, statusUrl: string): string {
  const rel = (p: string): string => relative(process.cwd(), p) || p
  const dev = pki.devices['device-ec']
  return `
mtls-ambassador demo
  certificates  ${rel(pki.dir)} (${pki.created ? 'generated now' : 'reused'})
  simulator     ${sim.url}   (inspect: curl ${sim.url}/__sim/state)
  gateway       https://localhost:${port}   (listening on ${listening})   status listener: ${statusUrl}

Try:
  curl --cacert ${rel(pki.server.ca)} --cert ${rel(dev.cert)} --key ${rel(dev.key)} https://localhost:${port}/status
  curl --cacert ${rel(pki.server.ca)} https://localhost:${port}/status        # no client certificate: refused
  extra/mender-device.sh --server https://localhost:${port} --ca ${rel(pki.server.ca)} --cert ${rel(dev.cert)} --key ${rel(dev.key)} --identity mac=02:00:00:00:00:01 auth
  curl ${sim.url}/__sim/state      # the device is now accepted in the simulator

`
}

/** Runs the demo until SIGTERM/SIGINT; returns the exit code (0, or --help). A failed start closes what it began. */
export async function runDemo (argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const flags = parseDemoFlags(argv)
  if (flags === undefined) {
    out.write(DEMO_USAGE + '\n')
    return 0
  }
  const pki = await writeDemoPki(flags.certs)
  const sim = await startSimulator({ host: SIM_HOST, port: flags.simPort })
    .catch((err: unknown) => { throw listenError(err, { host: SIM_HOST, port: flags.simPort }) })
  let running
  try {
    const config = loadConfig({
      overrides: {
        listen: hostPort(flags.host, flags.port),
        status_listen: hostPort(flags.host, flags.statusPort),
        mender_backend: sim.url,
        mender_user: DEFAULT_USER.email,
        mender_pass: DEFAULT_USER.password,
        server_cert: pki.server.cert,
        server_key: pki.server.key,
        tenant_ca_pem: pki.tenantCa.cert
      }
    })
    running = await startServer(config, createLogger(config.common))
  } catch (err) {
    await sim.close()
    throw err
  }
  const port = new URL(running.url).port
  out.write(banner(pki, sim, port, hostPort(flags.host, Number(port)), running.statusUrl ?? 'off'))
  await stopSignal()
  await running.stop()
  await sim.close()
  return 0
}
