// A private dbus-daemon for the D-Bus demo (and the tests that drive it): a generated bus configuration listening on
// a Unix socket in a given folder with EXTERNAL authentication, started with --print-address, stopped on demand.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface PrivateBus {
  /** The address dbus-daemon printed (`unix:path=…,guid=…`). */
  address: string
  /** The bus's Unix socket: the target of a reverse tunnel. */
  socket: string
  stop: () => Promise<void>
}

/**
 * The bus configuration. EXTERNAL authentication checks the uid the client claims against the socket's peer
 * credentials (SO_PEERCRED): behind a reverse tunnel that peer is the tunnel process, so the bus authenticates the
 * proxy, never the remote agent. The policy admits every connection of the bus's users (a demo bus); a real bus
 * names the proxy's dedicated user instead.
 */
export function busConfig (socket: string): string {
  return [
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
    '<busconfig>',
    '  <type>session</type>',
    `  <listen>unix:path=${socket}</listen>`,
    '  <auth>EXTERNAL</auth>',
    '  <policy context="default">',
    '    <allow user="*"/>',
    '    <allow own="*"/>',
    '    <allow send_destination="*" eavesdrop="true"/>',
    '    <allow eavesdrop="true"/>',
    '  </policy>',
    '</busconfig>',
    ''
  ].join('\n')
}

/** Starts dbus-daemon on `<dir>/bus.sock`; rejects with a clear message when it is missing or does not start. */
export async function startPrivateBus (dir: string, timeoutMs = 15_000): Promise<PrivateBus> {
  const socket = join(dir, 'bus.sock')
  const config = join(dir, 'bus.conf')
  await writeFile(config, busConfig(socket), { mode: 0o644 })
  const child = spawn('dbus-daemon', ['--config-file', config, '--nofork', '--print-address'], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.pid === undefined) return // it never started
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  let output = ''
  const address = await new Promise<string>((resolve, reject) => {
    const fail = (why: string): void => { clearTimeout(timer); reject(new Error(`dbus-daemon ${why}${output}`)) }
    const timer = setTimeout(() => { fail('printed no address in time') }, timeoutMs)
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'ENOENT' ? 'not found (Debian: apt-get install dbus-daemon)' : err.message))
    child.once('exit', (code) => fail(`exited with ${String(code)}: `))
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
      const line = /^(unix:\S+)$/m.exec(output)?.[1]
      if (line !== undefined) { clearTimeout(timer); resolve(line) }
    })
  }).catch(async (err: unknown) => { await stop(); throw err })
  child.removeAllListeners('exit')
  return { address, socket, stop }
}
