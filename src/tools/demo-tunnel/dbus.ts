// `mtls-ambassador demo dbus`: the double proxy for D-Bus in one process. A private dbus-daemon, a reverse tunnel
// (mTLS on 127.0.0.1:2021 → the bus's Unix socket) and a forward tunnel (a Unix socket → the reverse tunnel, with a
// client certificate), a PKI generated for the run; one dbus-send call through it, its answer and the tunnels' log
// lines printed. Runs until SIGTERM/SIGINT, or exits after the call with --once.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { parseFlags, portFlag } from '../../lib/cli-args.js'
import { hostPort } from '../../net/listen-error.js'
import type { Running } from '../../server.js'
import { startPrivateBus } from './bus.js'
import {
  DEMO_CLIENT as CLIENT, DemoLog, demoRun, forwardEntry, reverseEntry, startDemoTunnels, tunnelAddress, untilStopped,
  type DemoRun
} from './common.js'

export const DBUS_DEMO_USAGE = `usage: mtls-ambassador demo dbus [options]

The double proxy for D-Bus on one machine: a private dbus-daemon, a reverse tunnel (mTLS on 127.0.0.1, the
controller side) carrying admitted clients to the bus's Unix socket, and a forward tunnel (a Unix socket, the agent
side) carrying local clients to it with a client certificate; certificates are generated for the run. Calls
org.freedesktop.DBus.ListNames through it with dbus-send and prints the answer and the tunnels' log lines, then runs
until SIGTERM/SIGINT. Needs dbus-daemon and dbus-send (Debian: apt-get install dbus-daemon dbus).

options:
  --port N     TCP port of the reverse tunnel's mTLS listener on 127.0.0.1 (default 2021; 0 = any free port)
  --once       exit after the call (0 when it answered)
  -h, --help   this help`

/** dbus-send ListNames on the bus at `socket`: its exit code and output. */
async function listNames (socket: string): Promise<{ ok: boolean, text: string }> {
  const args = [`--bus=unix:path=${socket}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
    'org.freedesktop.DBus.ListNames']
  return await new Promise((resolve) => {
    execFile('dbus-send', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
      resolve({ ok: err === null, text: missing ? 'dbus-send not found (Debian: apt-get install dbus)\n' : stdout + stderr })
    })
  })
}

function banner (run: DemoRun, controller: string, socket: string): string {
  return `
mtls-ambassador demo dbus
  certificates  ${run.pki.dir} (generated for this run)
  bus           dbus-daemon on unix:${join(run.dir, 'bus.sock')}
  controller    reverse tunnel, mTLS on ${controller} → the bus (admits CN=${CLIENT})
  agent         forward tunnel on unix:${socket} → ${controller}

Try:
  dbus-send --bus=unix:path=${socket} --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames
  busctl --address=unix:path=${socket} list
  gdbus call --address unix:path=${socket} --dest org.freedesktop.DBus --object-path / --method org.freedesktop.DBus.GetId

`
}

/** Runs the demo; returns the exit code (with --once: 0 when the call through the tunnels answered). */
export async function runDbusDemo (argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, help } = parseFlags(argv, { port: { type: 'string' }, once: { type: 'boolean' } }, { command: 'demo dbus' })
  if (help) {
    out.write(DBUS_DEMO_USAGE + '\n')
    return 0
  }
  const port = portFlag('demo dbus', values, 'port', 2021)
  const run = await demoRun('mtls-dbus-demo-')
  const stops: Array<() => Promise<void>> = [run.cleanup]
  try {
    const bus = await startPrivateBus(run.dir)
    stops.unshift(bus.stop)
    const log = new DemoLog(out)
    const controller = await startDemoTunnels([reverseEntry(run, 'controller', hostPort('127.0.0.1', port), `unix:${bus.socket}`)], log)
    stops.unshift(controller.stop)
    const socket = join(run.dir, 'agent.sock')
    const agent: Running = await startDemoTunnels([
      forwardEntry(run, 'agent', `unix:${socket}`, tunnelAddress(controller, 'controller'))
    ], log)
    stops.unshift(agent.stop)
    out.write(banner(run, tunnelAddress(controller, 'controller'), socket))
    const answer = await listNames(socket)
    out.write(`$ dbus-send … org.freedesktop.DBus.ListNames   (through agent → controller → dbus-daemon)\n${answer.text}\n`)
    await log.connectionsLogged('controller', answer.ok ? 1 : 0)
    return await untilStopped(values.once === true, answer.ok, out)
  } finally {
    for (const stop of stops) await stop()
  }
}
