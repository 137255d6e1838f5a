// Child processes of the real-client harness: each runs in its own process group with its output captured, can be
// awaited for a line of output, and is stopped with its whole group (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process'

export interface RunResult { code: number | null, stdout: string, stderr: string }

export interface Proc {
  pid: number
  /** stdout and stderr captured so far, interleaved */
  output: () => string
  exited: Promise<RunResult>
  /** resolves once the output matches `re`; rejects on timeout or early exit */
  waitFor: (re: RegExp, timeoutMs: number) => Promise<void>
  stop: () => Promise<RunResult>
}

const procs = new Set<Proc>()

class ManagedProcess implements Proc {
  readonly pid: number
  readonly exited: Promise<RunResult>
  private all = ''
  private done = false
  private readonly listeners = new Set<() => void>()

  constructor (private readonly cmd: string, args: string[], env: Record<string, string>) {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    this.pid = child.pid ?? -1
    const out = { stdout: '', stderr: '' }
    const onData = (key: 'stdout' | 'stderr') => (chunk: Buffer) => {
      out[key] += chunk.toString()
      this.all += chunk.toString()
      this.notify()
    }
    child.stdout.on('data', onData('stdout'))
    child.stderr.on('data', onData('stderr'))
    this.exited = new Promise<RunResult>((resolve) => {
      child.on('close', (code, signal) => resolve({ code: code ?? (signal === null ? null : 128), ...out }))
      child.on('error', (err) => resolve({ code: null, stdout: out.stdout, stderr: `${out.stderr}${String(err)}` }))
    })
    this.exited.then(() => { this.done = true; procs.delete(this); this.notify() }).catch(() => {})
    procs.add(this)
  }

  output (): string { return this.all }

  private notify (): void { for (const l of this.listeners) l() }

  private killGroup (sig: NodeJS.Signals): void {
    try { process.kill(-this.pid, sig) } catch { /* already gone */ }
  }

  async stop (): Promise<RunResult> {
    if (this.done) return await this.exited
    this.killGroup('SIGTERM')
    const timer = setTimeout(() => this.killGroup('SIGKILL'), 3000)
    const result = await this.exited
    clearTimeout(timer)
    return result
  }

  async waitFor (re: RegExp, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer)
        this.listeners.delete(check)
        if (err === undefined) resolve(); else reject(err)
      }
      const check = (): void => {
        if (re.test(this.all)) finish()
        else if (this.done) finish(new Error(`${this.cmd} exited before printing ${re}:\n${this.all}`))
      }
      const timer = setTimeout(() => finish(new Error(`no ${re} from ${this.cmd} within ${timeoutMs} ms:\n${this.all}`)), timeoutMs)
      this.listeners.add(check)
      check()
    })
  }
}

export function startProc (cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  return new ManagedProcess(cmd, args, env)
}

/** Stops every process started here that is still running. */
export async function stopAllProcesses (): Promise<void> {
  await Promise.all([...procs].map(async (p) => await p.stop()))
}
