// Harness for the real Mender device client (mender 3.x) and mender-connect: per-device config folders, runs in
// private mount namespaces, a private D-Bus system bus, and cleanup. Needs root: it creates the hard-coded
// /usr/share/mender and /etc/mender mount points when missing and bind-mounts each device's folders over them.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stopAllProcesses, startProc, type Proc, type RunResult } from './real-client-process.js'

export type { Proc, RunResult }

const BIN_DIR = fileURLToPath(new URL('../../.cache/debian/root/usr/bin/', import.meta.url))
export const MENDER_BIN = join(BIN_DIR, 'mender')
export const MENDER_CONNECT_BIN = join(BIN_DIR, 'mender-connect')
const MOUNT_POINTS = ['/usr/share/mender', '/etc/mender']

export interface DeviceOptions {
  name: string
  mac: string
  serverUrl: string
  serverCaPem: string
  /** device certificate chain (leaf first); omit to run without `HttpsClient` (no client certificate) */
  certPem?: string
  keyPem?: string
  /** `Security.AuthPrivateKey`: signs the auth request instead of the TLS key */
  authKeyPem?: string
  tenantToken?: string
  /** enable the client's D-Bus API (needed by mender-connect) */
  dbus?: boolean
  pollSeconds?: number
  logLevel?: 'debug' | 'info' | 'warning' | 'error'
}

export interface Device {
  name: string
  mac: string
  dir: string
  confPath: string
  dataDir: string
  shareDir: string
  etcDir: string
  logLevel: string
}

export interface Bus { address: string, stop: () => Promise<void> }

const dirs = new Set<string>()

/** Paths of the real-client binaries that are missing (empty when the harness can run). */
export function missingRealClientBinaries (): string[] {
  return [MENDER_BIN, MENDER_CONNECT_BIN].filter((p) => !existsSync(p))
}

function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

function writeFile (path: string, content: string, mode = 0o600): string {
  writeFileSync(path, content, { mode })
  chmodSync(path, mode)
  return path
}

function menderConf (dir: string, o: DeviceOptions): Record<string, unknown> {
  const poll = o.pollSeconds ?? 5
  const conf: Record<string, unknown> = {
    ServerURL: o.serverUrl,
    ServerCertificate: writeFile(join(dir, 'server-ca.pem'), o.serverCaPem),
    DeviceTypeFile: join(dir, 'etc', 'device_type'),
    UpdatePollIntervalSeconds: poll,
    InventoryPollIntervalSeconds: poll,
    RetryPollIntervalSeconds: 1,
    DBus: { Enabled: o.dbus === true }
  }
  if (o.certPem !== undefined && o.keyPem !== undefined) {
    conf.HttpsClient = {
      Certificate: writeFile(join(dir, 'device-cert.pem'), o.certPem),
      Key: writeFile(join(dir, 'device-key.pem'), o.keyPem)
    }
  }
  if (o.authKeyPem !== undefined) conf.Security = { AuthPrivateKey: writeFile(join(dir, 'auth-key.pem'), o.authKeyPem) }
  if (o.tenantToken !== undefined) conf.TenantToken = o.tenantToken
  return conf
}

/** Creates a device folder (mender.conf, identity and inventory scripts, artifact_info, device_type, data dir). */
export function createDevice (o: DeviceOptions): Device {
  const dir = tempDir(`mender-${o.name}-`)
  const shareDir = join(dir, 'share')
  const etcDir = join(dir, 'etc')
  const dataDir = join(dir, 'data')
  for (const d of [join(shareDir, 'identity'), join(shareDir, 'inventory'), join(shareDir, 'modules', 'v3'), etcDir, dataDir]) {
    mkdirSync(d, { recursive: true })
  }
  writeFile(join(shareDir, 'identity', 'mender-device-identity'), `#!/bin/sh\necho 'mac=${o.mac}'\n`, 0o755)
  writeFile(join(shareDir, 'inventory', 'mender-inventory-harness'), `#!/bin/sh\necho 'harness_device=${o.name}'\n`, 0o755)
  writeFile(join(etcDir, 'artifact_info'), 'artifact_name=release-1\n', 0o644)
  writeFile(join(etcDir, 'device_type'), 'device_type=test-device\n', 0o644)
  const confPath = writeFile(join(dir, 'mender.conf'), JSON.stringify(menderConf(dir, o), null, 2))
  return { name: o.name, mac: o.mac, dir, confPath, dataDir, shareDir, etcDir, logLevel: o.logLevel ?? 'info' }
}

function ensureMountPoints (): void {
  for (const p of MOUNT_POINTS) mkdirSync(p, { recursive: true })
}

/** Runs `mender <command>` for `dev` inside a private mount namespace holding the device's identity files. */
function startMender (dev: Device, command: string, env: Record<string, string> = {}): Proc {
  ensureMountPoints()
  const script = 'mount --bind "$1" /usr/share/mender && mount --bind "$2" /etc/mender && shift 2 && exec "$@"'
  return startProc('unshare', [
    '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dev.shareDir, dev.etcDir,
    MENDER_BIN, '-c', dev.confPath, '-d', dev.dataDir, '--no-syslog', '-l', dev.logLevel, command
  ], env)
}

/** One auth request: exit code 0 = the device got a JWT, 1 = rejected or TLS refused. */
export async function bootstrap (dev: Device, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const proc = startMender(dev, 'bootstrap')
  const timer = setTimeout(() => { proc.stop().catch(() => {}) }, opts.timeoutMs ?? 20_000)
  const result = await proc.exited
  clearTimeout(timer)
  return result
}

/** Starts `mender daemon` (auth, inventory and deployment polls); pass `bus` when the device has D-Bus enabled. */
export function startDaemon (dev: Device, bus?: Bus): Proc {
  return startMender(dev, 'daemon', bus === undefined ? {} : { DBUS_SYSTEM_BUS_ADDRESS: bus.address })
}

/** Starts mender-connect, which takes its JWT and server URL from the client's D-Bus API on `bus`. */
export function startMenderConnect (dev: Device, bus: Bus): Proc {
  const conf = writeFile(join(dev.dir, 'mender-connect.conf'), JSON.stringify({ ShellCommand: '/bin/sh', User: 'nobody' }))
  return startProc(MENDER_CONNECT_BIN, ['-c', conf, '-b', conf, '--debug', 'daemon'], { DBUS_SYSTEM_BUS_ADDRESS: bus.address })
}

/** A private D-Bus system bus (unix socket in a temp folder, EXTERNAL auth, allow-all policy). */
export async function startDbus (): Promise<Bus> {
  const dir = tempDir('mender-dbus-')
  const config = writeFile(join(dir, 'system.conf'), [
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
    '<busconfig>', '  <type>system</type>', `  <listen>unix:path=${join(dir, 'bus')}</listen>`,
    '  <auth>EXTERNAL</auth>',
    '  <policy context="default">', '    <allow user="*"/>', '    <allow own="*"/>',
    '    <allow send_destination="*" eavesdrop="true"/>', '    <allow receive_sender="*"/>', '  </policy>',
    '</busconfig>', ''
  ].join('\n'), 0o644)
  const proc = startProc('dbus-daemon', ['--config-file', config, '--nofork', '--print-address'])
  await proc.waitFor(/^unix:\S+$/m, 10_000)
  const address = /^(unix:\S+)$/m.exec(proc.output())?.[1] ?? ''
  return { address, stop: async () => { await proc.stop() } }
}

/** Stops every process the harness started (whole process groups) and removes its temp folders. */
export async function cleanupRealClients (): Promise<void> {
  await stopAllProcesses()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}
