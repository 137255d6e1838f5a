// The pairs of the tunnel benchmark, each proxy its own process on loopback: our forward + reverse tunnels
// (`mtls-ambassador serve --config`), HAProxy forward + reverse, stunnel client + server. Every configuration comes
// from the operator files in extra/tunnel/ (ports and paths substituted), so the benchmark runs what the docs show.
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { combinedPem, fromTemplate, startStunnel, tunnelFromTemplate } from '../test/support/peers.js'
import { startHaproxy } from '../test/support/haproxy.js'
import { socketDir } from '../test/support/tunnel.js'
import type { TestCert } from '../test/support/pki.js'
import { cliCommand, freePort, startChild, stopChild, waitForLine } from './procs.js'

/** The certificates of a pair: the server's names cover both patterns, the client passes every rule set. */
export interface PairFiles { server: TestCert, client: TestCert, ca: string }

export interface Pair {
  name: string
  /** Plain TCP port the client connects to (the forward proxy's listener). */
  entry: number
  /** The reverse proxy's mTLS port. */
  tls: number
  forwardPid: number
  reversePid: number
  stop: () => Promise<void>
}

const pidOf = (pid: number | undefined): number => {
  if (pid === undefined) throw new Error('a proxy process has no pid')
  return pid
}

async function ourTunnel (dir: string, name: string, entry: Record<string, unknown>): Promise<{
  pid: number, port: number, stop: () => Promise<void>
}> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, stringify({ status_listen: 'off', log_level: 'info', tunnels: [entry] }))
  // the log is appended to: a previous round's ready line must not be read as this one's
  await rm(join(dir, `${name}.log`), { force: true })
  const child = startChild(name, process.execPath, [...cliCommand().args, 'serve', '--config', file], {}, join(dir, `${name}.log`))
  try {
    const m = await waitForLine(child, /"event":"tunnel_listening".*?"listen":"127\.0\.0\.1:(\d+)"/)
    return { pid: pidOf(child.proc.pid), port: Number(m[1]), stop: async () => await stopChild(child) }
  } catch (err) {
    await stopChild(child)
    throw err
  }
}

/** Our forward tunnel → our reverse tunnel → `target` (the sidecar entries of tunnel-{forward,reverse}.yaml). */
export async function startOurPair (dir: string, f: PairFiles, target: number): Promise<Pair> {
  const reverse = await ourTunnel(dir, 'tunnel-reverse', tunnelFromTemplate('tunnel-reverse.yaml', 'sidecar-server', [
    ['0.0.0.0:8081', '127.0.0.1:0'], ['127.0.0.1:3000', `127.0.0.1:${target}`],
    ['/etc/mtls/server.crt', f.server.chainPath], ['/etc/mtls/server.key', f.server.keyPath], ['/etc/mtls/ca.pem', f.ca]
  ]))
  const forward = await ourTunnel(dir, 'tunnel-forward', tunnelFromTemplate('tunnel-forward.yaml', 'sidecar-client', [
    ['127.0.0.1:8080', '127.0.0.1:0'], ['server.example.com:8081', `127.0.0.1:${reverse.port}`],
    ['/etc/mtls/client.crt', f.client.chainPath], ['/etc/mtls/client.key', f.client.keyPath], ['/etc/mtls/ca.pem', f.ca]
  ])).catch(async (err) => { await reverse.stop(); throw err })
  const stop = async (): Promise<void> => { await forward.stop(); await reverse.stop() }
  return { name: 'mtls-ambassador pair', entry: forward.port, tls: reverse.port, forwardPid: forward.pid, reversePid: reverse.pid, stop }
}

/** HAProxy forward → HAProxy reverse → `target` (haproxy-{forward,reverse}.cfg over TCP, `nbthread 1`). */
export async function startHaproxyPair (dir: string, f: PairFiles, target: number): Promise<Pair> {
  const [entry, tls] = [await freePort(), await freePort()]
  const [rdir, fdir] = [await socketDir(), await socketDir()]
  const oneThread: [string, string] = ['\nglobal\n', '\nglobal\n    nbthread 1\n']
  const reverse = await startHaproxy(rdir.dir, fromTemplate('haproxy-reverse.cfg', [oneThread,
    ['*:2021', `127.0.0.1:${tls}`], ['/etc/haproxy/certs/controller.pem', combinedPem(dir, f.server)],
    ['/etc/haproxy/certs/ca.pem', f.ca], ['/run/bluechi/bluechi.sock', `127.0.0.1:${target}`]
  ]), { host: '127.0.0.1', port: tls })
  const forward = await startHaproxy(fdir.dir, fromTemplate('haproxy-forward.cfg', [oneThread,
    ['/run/bluechi/agent.sock mode 660 group bluechi', `127.0.0.1:${entry}`], ['controller.example.com:2021', `127.0.0.1:${tls}`],
    ['/etc/haproxy/certs/agent.pem', combinedPem(dir, f.client)], ['/etc/haproxy/certs/ca.pem', f.ca]
  ]), { host: '127.0.0.1', port: entry }).catch(async (err) => { await reverse.stop(); throw err })
  const stop = async (): Promise<void> => {
    await forward.stop()
    await reverse.stop()
    await rdir.cleanup()
    await fdir.cleanup()
  }
  return { name: 'HAProxy pair', entry, tls, forwardPid: pidOf(forward.child.pid), reversePid: pidOf(reverse.child.pid), stop }
}

/** stunnel client → stunnel server → `target` (stunnel-{forward,reverse}.conf). */
export async function startStunnelPair (dir: string, f: PairFiles, target: number): Promise<Pair> {
  const [entry, tls] = [await freePort(), await freePort()]
  const reverse = await startStunnel(dir, 'stunnel-reverse', fromTemplate('stunnel-reverse.conf', [
    ['accept = 8081', `accept = 127.0.0.1:${tls}`], ['127.0.0.1:3000', `127.0.0.1:${target}`],
    ['/etc/stunnel/server.crt', f.server.chainPath], ['/etc/stunnel/server.key', f.server.keyPath], ['/etc/stunnel/ca.pem', f.ca]
  ]), { host: '127.0.0.1', port: tls })
  const forward = await startStunnel(dir, 'stunnel-forward', fromTemplate('stunnel-forward.conf', [
    ['accept = 127.0.0.1:8080', `accept = 127.0.0.1:${entry}`], ['server.example.com:8081', `127.0.0.1:${tls}`],
    ['/etc/stunnel/client.crt', f.client.chainPath], ['/etc/stunnel/client.key', f.client.keyPath], ['/etc/stunnel/ca.pem', f.ca]
  ]), { host: '127.0.0.1', port: entry }).catch(async (err) => { await reverse.stop(); throw err })
  const stop = async (): Promise<void> => { await forward.stop(); await reverse.stop() }
  return { name: 'stunnel pair', entry, tls, forwardPid: pidOf(forward.child.pid), reversePid: pidOf(reverse.child.pid), stop }
}
