// Folder boundaries of src/ are enforced by ESLint: shared folders never import a mode or a tool, a mode never
// imports the other mode, and the Mender simulator imports none of the gateway's checking code. Each rule is shown
// to fail on a forbidden import and to let an allowed one pass, and the real tree has no violation.
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/process.js'

let eslint: ESLint

beforeAll(() => { eslint = new ESLint({ cwd: REPO_ROOT }) })

async function restricted (file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(REPO_ROOT, file) })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

const imp = (spec: string): string => `import * as m from '${spec}'\nexport const x = m\n`

describe('folder boundaries', () => {
  it.each([
    ['src/tls/probe.ts', '../gateway/hooks.js'],
    ['src/net/probe.ts', '../gateway/proxy/headers.js'],
    ['src/config/probe.ts', '../tunnel/run.js'],
    ['src/observe/probe.ts', '../tools/demo.js'],
    ['src/x509/probe.ts', '../../src/gateway/device-auth/keys.js'],
    ['src/status/probe.ts', '../gateway/mender/management-health.js'],
    ['src/lib/probe.ts', '../tools/pki/index.js'],
    ['src/cluster/probe.ts', '../gateway/run.js'],
    ['src/cluster/probe.ts', '../tunnel/run.js'],
    ['src/gateway/probe.ts', '../tunnel/run.js'],
    ['src/gateway/proxy/probe.ts', '../../tools/simulator/index.js'],
    ['src/tunnel/probe.ts', '../gateway/app.js'],
    ['src/tools/simulator/probe.ts', '../../gateway/device-auth/keys.js'],
    ['src/tools/simulator/probe.ts', '../../gateway/mender/jwt.js'],
    ['src/tools/simulator/probe.ts', '../../tls/peer.js'],
    ['src/tools/simulator/probe.ts', '../../x509/serial.js'],
    ['src/tools/simulator/probe.ts', '../pki/keys.js']
  ])('refuses %s importing %s', async (file, spec) => {
    expect(await restricted(file, imp(spec))).toHaveLength(1)
  }, 60_000)

  it.each([
    ['src/tls/probe.ts', '../x509/pem.js'],
    ['src/gateway/probe.ts', '../tls/guard.js'],
    ['src/tunnel/probe.ts', '../net/pipe.js'],
    ['src/tools/demo.ts', '../gateway/app.js'],
    ['src/tools/pki/probe.ts', '../../x509/serial.js'],
    ['src/tools/simulator/probe.ts', './go-marshal.js'],
    ['src/tools/simulator/probe.ts', 'node:tls']
  ])('lets %s import %s', async (file, spec) => {
    expect(await restricted(file, imp(spec))).toEqual([])
  }, 60_000)

  it('finds no boundary violation in src/', async () => {
    const results = await eslint.lintFiles(['src'])
    expect(results.length).toBeGreaterThan(50)
    const violations = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}: ${m.message}`))
    expect(violations).toEqual([])
  }, 60_000)

  it('allows process.exit only in src/server.ts', async () => {
    const code = 'export function f (): void { process.exit(1) }\n'
    const [inServer] = await eslint.lintText(code, { filePath: join(REPO_ROOT, 'src/server.ts') })
    const [elsewhere] = await eslint.lintText(code, { filePath: join(REPO_ROOT, 'src/gateway/probe.ts') })
    expect(inServer?.messages.filter((m) => m.ruleId === 'n/no-process-exit')).toEqual([])
    expect(elsewhere?.messages.filter((m) => m.ruleId === 'n/no-process-exit')).toHaveLength(1)
  }, 60_000)
})
