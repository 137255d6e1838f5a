import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { login } from '../support/sim-helpers.js'

const CLI = pathToFileURL(resolvePath(import.meta.dirname, '../../src/tools/simulator/cli.ts')).href
const SCRIPT = `import(${JSON.stringify(CLI)}).then((m) => m.runSimulatorCli(process.argv.slice(1)))` +
  '.catch((err) => { console.error(err.message); process.exitCode = 2 })'

/** Runs the simulator CLI in its own process and resolves with its announced URL. */
async function startCli (args: string[]): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', SCRIPT, '--', ...args], {
    cwd: resolvePath(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /Mender simulator listening on (\S+)\n/.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`simulator exited early (${code}): ${out}`)))
  })
  return { child, url }
}

describe('simulator CLI process', () => {
  let child: ChildProcess | undefined
  afterEach(() => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL')
    child = undefined
  })

  it('announces its URL and serves logins for the --user it was given', async () => {
    const started = await startCli(['--port', '0', '--user', 'cli@example.com:secret'])
    child = started.child
    expect((await login(started.url, 'cli@example.com', 'secret')).split('.')).toHaveLength(3)
  })

  it('stops cleanly on SIGTERM', async () => {
    const started = await startCli(['--port', '0'])
    child = started.child
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    expect(code).toBe(0)
  })

  it('stops cleanly on SIGINT', async () => {
    const started = await startCli([])
    child = started.child
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    const [code] = await exited
    expect(code).toBe(0)
  })
})
