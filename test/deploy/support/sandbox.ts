// Starts a replayed image's command the way a hardened container runs it: in a private mount namespace with the
// certificate folder bind-mounted read-only at /etc/mtls/certs (an overlay on /etc makes the mount point without
// touching the host), the root filesystem and the app read-only, as the image's USER with no capabilities and
// no_new_privs. Needs root (CAP_SYS_ADMIN) and util-linux's unshare and setpriv.
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname } from 'node:path'
import type { ImageFs } from './image-replay.js'

export interface Sandboxed {
  child: ChildProcess
  pid: number
  lines: Array<Record<string, unknown>>
  output: () => string
  waitFor: (
    predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number
  ) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
}

const SCRIPT = `
ovl=$1 certs=$2 app=$3 ids=$4; shift 4
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$ovl"
mkdir "$ovl/upper" "$ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ovl/upper,workdir=$ovl/work" /etc
mkdir -p /etc/mtls/certs
mount --bind "$certs" /etc/mtls/certs
mount -o remount,bind,ro /etc/mtls/certs
mount -o remount,bind,ro /etc
mount --bind "$app" "$app"
mount -o remount,bind,ro "$app"
mount -o remount,bind,ro /
cd "$app"
exec setpriv --reuid "\${ids%:*}" --regid "\${ids#*:}" --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"
`

/** `uid:gid` of a Dockerfile USER given numerically (a name would need the image's /etc/passwd). */
export function numericUser (user: string): string {
  const m = /^(\d+)(?::(\d+))?$/.exec(user)
  if (m === null) throw new Error(`USER ${user} is not numeric`)
  return `${m[1] as string}:${m[2] ?? (m[1] as string)}`
}

/** The PATH the sandboxed command gets: this machine's node first, as the image has its own on PATH. */
export const SANDBOX_PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`

export function startSandboxed (
  image: ImageFs, o: { certsDir: string, scratch: string, env: Record<string, string> }
): Sandboxed {
  const args = ['-m', '/bin/sh', '-ec', SCRIPT, 'sandbox', o.scratch, o.certsDir, image.workdir, numericUser(image.user),
    ...image.entrypoint, ...image.cmd]
  const child = spawn('unshare', args, { env: { PATH: SANDBOX_PATH, ...image.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const lines: Array<Record<string, unknown>> = []
  const waiters = new Set<() => void>()
  const onData = (d: Buffer): void => {
    out += d.toString()
    lines.length = 0
    for (const l of out.split('\n')) {
      try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch { /* plain text or a partial line */ }
    }
    waiters.forEach((w) => w())
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    waiters.forEach((w) => w())
    resolve(code)
  }))
  const waitFor: Sandboxed['waitFor'] = async (predicate, timeoutMs = 20_000) => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out; output:\n${out}`)) }, timeoutMs)
    function check (): void {
      const hit = lines.find(predicate)
      if (hit === undefined && child.exitCode === null) return
      clearTimeout(timer)
      waiters.delete(check)
      if (hit !== undefined) resolve(hit)
      else reject(new Error(`exited with ${String(child.exitCode)}; output:\n${out}`))
    }
    waiters.add(check)
    check()
  })
  return { child, pid: child.pid ?? -1, lines, output: () => out, waitFor, exited }
}

/** Runs a command as `uid:gid` without capabilities; resolves with its exit code. */
export async function runAs (ids: string, command: string[], env: Record<string, string>): Promise<number | null> {
  const [uid, gid] = numericUser(ids).split(':') as [string, string]
  const child = spawn('setpriv', ['--reuid', uid, '--regid', gid, '--clear-groups', '--no-new-privs', '--', ...command], {
    env: { PATH: SANDBOX_PATH, ...env }, stdio: 'ignore'
  })
  return await new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}
