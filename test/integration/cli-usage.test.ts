// The `mtls-ambassador` command as a real process: every subcommand (and every `certs` command) answers --help / -h
// with its usage on stdout and exit 0; a usage error gives one line on stderr, exit 2 and no stack trace.
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/process.js'

interface Run { code: number | null, stdout: string, stderr: string }

// all of a block's processes start at once (each a Node with tsx): on a loaded machine that takes long, so a block
// has two minutes, and a process still running shortly before that is killed, so none outlives its test
const BLOCK_TIMEOUT = 120_000

async function run (args: string[]): Promise<Run> {
  const p = runCli(args, {})
  const timer = setTimeout(() => p.child.kill('SIGKILL'), BLOCK_TIMEOUT - 10_000)
  const code = await p.exited
  clearTimeout(timer)
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

const CERTS = ['demo', 'ca', 'intermediate', 'server', 'device', 'revoke']
const COMMANDS = ['serve', 'check-config', 'certs', 'sim', 'demo', 'version', 'help']
const ONE_USAGE_LINE = /^mtls-ambassador: [^\n]+ \(try --help\)\n$/

describe.concurrent('--help', { timeout: BLOCK_TIMEOUT }, () => {
  const cases = [[], ...COMMANDS.map((c) => [c]), ...CERTS.map((c) => ['certs', c])]
    .map((words) => [words.join(' '), words])
  it.each(cases)('mtls-ambassador %s --help prints its usage on stdout and exits 0', async (name, words) => {
    const r = await run([...words as string[], '--help'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/usage/i)
    expect(r.stdout).toContain(`mtls-ambassador ${name as string}`.trim())
  })

  it.each(['serve', 'certs ca'])('%s -h is --help', async (name) => {
    const r = await run([...name.split(' '), '-h'])
    expect([r.code, r.stderr, /usage/i.test(r.stdout)]).toEqual([0, '', true])
  })

  it('help <command> prints that command\'s usage', async () => {
    const r = await run(['help', 'demo'])
    expect([r.code, r.stdout.includes('--status-port')]).toEqual([0, true])
  })
})

describe.concurrent('usage errors: one line on stderr, exit 2, no stack', { timeout: BLOCK_TIMEOUT }, () => {
  const cases: string[][] = [
    ['frobnicate'],
    ['--bogus'],
    ['serve', '--bogus'],
    ['serve', '--config'],
    ['check-config', '--bogus'],
    ['certs'],
    ['certs', 'frobnicate'],
    ...CERTS.map((c) => ['certs', c, '--bogus']),
    ['certs', 'ca', '--out'],
    ['sim', '--bogus'],
    ['sim', '--port'],
    ['demo', '--bogus'],
    ['demo', '--port', 'abc'],
    ['version', '--bogus'],
    ['help', 'frobnicate']
  ]
  it.each(cases.map((c) => [c.join(' '), c]))('%s', async (_name, args) => {
    const r = await run(args as string[])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_USAGE_LINE)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stdout).toBe('')
  })
})
