// The idle-connection scenario: a client process (idle-client.ts) holds 1k, 5k, 10k TLS connections to one server
// that never send a request; the server tree's RSS before, at each level (KiB per connection over the baseline) and
// a while after every connection closed (did the memory come back?).
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { sampleTree } from './cpu.js'
import { REPO_ROOT } from './procs.js'
import type { MemoryResult } from './results.js'
import type { BenchTarget, Identity } from './scenarios.js'

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export interface MemoryOptions { levels: number[], settleMs: number, afterCloseMs: number, ca: string }

/** Measures `t` with a fresh client process; the client is gone when this resolves. */
export async function idleMemory (t: BenchTarget, id: Identity, o: MemoryOptions): Promise<MemoryResult> {
  const port = new URL(t.url).port
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'idle-client.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', IDLE_PORT: port, IDLE_CERT: id.cert, IDLE_KEY: id.key, IDLE_CA: o.ca },
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (line) => waiting.shift()?.(line))
  const ask = async (cmd: string): Promise<string> => await new Promise((resolve, reject) => {
    waiting.push(resolve)
    child.once('exit', () => reject(new Error(`the idle client exited during "${cmd}"`)))
    child.stdin.write(cmd + '\n')
  })
  try {
    await sleep(o.settleMs)
    const baselineKiB = sampleTree(t.pid).rssKiB
    const levels: MemoryResult['levels'] = []
    for (const n of o.levels) {
      const [, open, errors] = (await ask(`open ${n}`)).split(' ').map(Number) as number[]
      await sleep(o.settleMs)
      const rssKiB = sampleTree(t.pid).rssKiB
      const kibPerConnection = (rssKiB - baselineKiB) / Math.max(1, open ?? 0)
      levels.push({ connections: open ?? 0, rssKiB, kibPerConnection, errors: errors ?? 0 })
    }
    await ask('close')
    await sleep(o.afterCloseMs)
    return { target: t.name, baselineKiB, levels, afterCloseKiB: sampleTree(t.pid).rssKiB }
  } finally {
    child.stdin.end()
    child.kill('SIGTERM')
  }
}
