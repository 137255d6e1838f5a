// System tools run as real child processes: which of a list are missing, and one run with its exit code and output
// (bounded by a timeout, never throwing).
import { execFile, spawnSync } from 'node:child_process'

export interface ToolRun { code: number | null, stdout: string, stderr: string }

/** The tools of `names` that are not on PATH. */
export function missingTools (names: string[]): string[] {
  return names.filter((n) => spawnSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }).status !== 0)
}

/** Runs `cmd args` to completion (killed after `timeoutMs`). */
export async function runTool (cmd: string, args: string[], timeoutMs = 20_000): Promise<ToolRun> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
      resolve({ code, stdout, stderr })
    })
  })
}
