// `mtls-ambassador demo`: demo PKI (generated when missing), an in-process Mender simulator and the gateway wired
// to it, then the commands to try printed. Runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util'
import { relative } from 'node:path'
import { writeDemoPki } from './pki/index.js'
import { DEFAULT_USER, startSimulator } from './simulator/index.js'
import { loadConfig } from './config/load.js'
import { createLogger } from './logger.js'
import { startGateway } from './server.js'

export async function runDemo (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { certs: { type: 'string', default: 'certs' } } })
  const pki = await writeDemoPki(values.certs)
  const sim = await startSimulator({ host: '127.0.0.1', port: 0 })
  const config = loadConfig({
    overrides: {
      mender_backend: sim.url,
      mender_user: DEFAULT_USER.email,
      mender_pass: DEFAULT_USER.password,
      server_cert: pki.server.cert,
      server_key: pki.server.key,
      tenant_ca_pem: pki.tenantCa.cert
    }
  })
  const logger = createLogger(config)
  const running = await startGateway(config, logger)
  const port = new URL(running.url).port
  const rel = (p: string): string => relative(process.cwd(), p) || p
  const dev = pki.devices['device-ec']
  process.stdout.write(`
mtls-ambassador demo
  certificates  ${rel(pki.dir)} (${pki.created ? 'generated now' : 'reused'})
  simulator     ${sim.url}   (inspect: curl ${sim.url}/__sim/state)
  gateway       https://localhost:${port}   status listener: ${running.statusUrl ?? 'off'}

Try:
  curl --cacert ${rel(pki.server.ca)} --cert ${rel(dev.cert)} --key ${rel(dev.key)} https://localhost:${port}/status
  curl --cacert ${rel(pki.server.ca)} https://localhost:${port}/status        # no client certificate: refused
  extra/mender-device.sh --server https://localhost:${port} --ca ${rel(pki.server.ca)} --cert ${rel(dev.cert)} --key ${rel(dev.key)} --identity mac=02:00:00:00:00:01 auth
  curl ${sim.url}/__sim/state      # the device is now accepted in the simulator

`)
  const stop = (): void => {
    running.stop().then(async () => await sim.close()).catch(() => {}).finally(() => { process.exitCode = 0 })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
