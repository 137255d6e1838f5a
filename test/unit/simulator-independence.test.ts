// The simulator is an independent Mender stand-in: an ESLint rule forbids it to import the gateway's device-auth,
// mender, tls and proxy code (whose bugs it would otherwise share), and the simulator's sources obey it.
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

describe('simulator independence', () => {
  it.each([
    ['device-auth', "import { parsePublicKey } from '../device-auth/keys.js'\nexport const f = parsePublicKey\n"],
    ['mender', "export { decodeJwtPart } from '../mender/jwt.js'\n"],
    ['tls', "import type { PeerIdentity } from '../tls/peer.js'\nexport type P = PeerIdentity\n"],
    ['proxy', "import * as path from '../proxy/path.js'\nexport const p = path\n"],
    ['device-auth (via src/)', "import { canonicalJson } from '../../src/device-auth/identity.js'\nexport const c = canonicalJson\n"]
  ])('fails lint for a simulator file importing the gateway\'s %s code', async (_folder, code) => {
    expect(await restricted('src/simulator/lint-probe.ts', code)).toHaveLength(1)
  }, 60_000)

  it('lets simulator files import their own modules and Node built-ins', async () => {
    expect(await restricted('src/simulator/lint-probe.ts', "import { goFold } from './go-marshal.js'\nimport { connect } from 'node:tls'\nexport const x = [goFold, connect]\n")).toEqual([])
  }, 60_000)

  it('leaves gateway files free to import each other', async () => {
    expect(await restricted('src/lint-probe.ts', "import { parsePublicKey } from './device-auth/keys.js'\nexport const f = parsePublicKey\n")).toEqual([])
  }, 60_000)

  it('finds no gateway import in the simulator\'s sources', async () => {
    const results = await eslint.lintFiles(['src/simulator'])
    expect(results.length).toBeGreaterThan(10)
    expect(results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}: ${m.message}`))).toEqual([])
  }, 60_000)
})
