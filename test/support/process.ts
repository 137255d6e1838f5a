// Runs the `mtls-ambassador` command from source as a real child process, with its JSON log lines parsed.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface CliProcess {
  child: ChildProcess
  lines: Array<Record<string, unknown>>
  stdout: () => string
  stderr: () => string
  /** Resolves with the first log line matching the predicate. */
  waitFor: (
    predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number
  ) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
}

export function runCli (args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  let parsed = 0
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    // only the complete lines not parsed yet (a long run logs thousands)
    const end = out.lastIndexOf('\n')
    if (end >= parsed) {
      for (const p of out.slice(parsed, end).split('\n')) {
        try { lines.push(JSON.parse(p) as Record<string, unknown>) } catch { /* plain text */ }
      }
      parsed = end + 1
    }
    for (const w of [...waiters]) w()
  })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const w of [...waiters]) w(); resolve(code) }))
  const waitFor: CliProcess['waitFor'] = async (predicate, timeoutMs = 15_000) => await new Promise((resolve, reject) => {
    let seen = 0
    const stop = (): void => {
      clearTimeout(timer)
      waiters.splice(waiters.indexOf(check), 1)
    }
    const check = (): void => {
      // each line is looked at once
      const hit = lines.slice(seen).find(predicate)
      seen = lines.length
      if (hit !== undefined) {
        stop()
        resolve(hit)
      } else if (child.exitCode !== null) {
        stop()
        reject(new Error(`process exited: ${err}${out}`))
      }
    }
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`timed out waiting for log line; stderr: ${err}`))
    }, timeoutMs)
    waiters.push(check)
    check()
  })
  return { child, lines, stdout: () => out, stderr: () => err, waitFor, exited }
}
