// What the tunnel demos share: a PKI generated per run in a temporary folder, tunnels started in this process with
// their JSON log lines written to the demo's output (and kept, to wait for a connection's line), and the flags.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { writeDemoPki, type DemoPkiLayout } from '../pki/index.js'
import { loadConfig } from '../../config/load.js'
import { createLogger } from '../../observe/logger.js'
import { startServer, type Running } from '../../server.js'
import { stopSignal } from '../demo.js'

/** A folder for one demo run (PKI, sockets), removed by `cleanup`. */
export interface DemoRun { dir: string, pki: DemoPkiLayout, cleanup: () => Promise<void> }

/** A fresh folder with a demo PKI: the server certificate for localhost, devices under the tenant CA. */
export async function demoRun (prefix: string): Promise<DemoRun> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  try {
    const pki = await writeDemoPki(join(dir, 'pki'), { force: true })
    return { dir, pki, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** Log lines of the demo's tunnels: written to `out` as they come, and kept. */
export class DemoLog extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  constructor (private readonly out: NodeJS.WritableStream) { super() }
  override _write (chunk: Buffer, _enc: string, cb: () => void): void {
    this.out.write(chunk)
    for (const line of chunk.toString('utf8').split('\n')) {
      try { this.lines.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a JSON line */ }
    }
    cb()
  }

  /** Resolves true once `count` carried connections of `tunnel` were logged; false after `timeoutMs`. */
  async connectionsLogged (tunnel: string, count: number, timeoutMs = 5000): Promise<boolean> {
    const done = (): boolean => this.lines.filter((l) => l.event === 'tunnel_connection' && l.tunnel === tunnel &&
      l.msg === 'tunnel connection closed').length >= count
    for (const end = Date.now() + timeoutMs; !done() && Date.now() < end;) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return done()
  }
}

/** Starts `tunnels` in this process (no status listener), logging to `log`. */
export async function startDemoTunnels (tunnels: Array<Record<string, unknown>>, log: DemoLog): Promise<Running> {
  const config = loadConfig({ env: {}, overrides: { status_listen: 'off', shutdown_timeout: 2000, log_level: 'info', tunnels } })
  return await startServer(config, createLogger(config.common, log))
}

/** The `host:port` a started tunnel listens on. */
export function tunnelAddress (running: Running, name: string): string {
  const address = running.addresses[name]
  if (address === undefined) throw new Error(`tunnel ${name} is not listening`)
  return address
}

/** The demo client's certificate, whose CN the reverse tunnels admit. */
export const DEMO_CLIENT = 'device-ec'

/** A reverse tunnel with the demo server certificate, admitting the demo client's CN only. */
export function reverseEntry (run: DemoRun, name: string, listen: string, connect: string): Record<string, unknown> {
  const { pki } = run
  return {
    name, mode: 'reverse', listen, connect, cert: pki.server.cert, key: pki.server.key, ca: pki.tenantCa.cert, allow_cn: [DEMO_CLIENT]
  }
}

/** A forward tunnel presenting the demo client's certificate to the reverse tunnel at `connect`. */
export function forwardEntry (run: DemoRun, name: string, listen: string, connect: string): Record<string, unknown> {
  const client = run.pki.devices[DEMO_CLIENT]
  return {
    name, mode: 'forward', listen, connect, cert: client.cert, key: client.key, ca: run.pki.server.ca, server_name: 'localhost'
  }
}

/** The end of a demo run: with --once its exit status now (0 when the check answered), else serve until a signal. */
export async function untilStopped (once: boolean, ok: boolean, out: NodeJS.WritableStream): Promise<number> {
  if (once) return ok ? 0 : 1
  out.write('Running until Ctrl-C.\n')
  await stopSignal()
  return 0
}
