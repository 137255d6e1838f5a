// Runs once before the reliability suite: builds dist/ (the scenarios run the gateway as `node dist/cli.js serve`,
// the way it is deployed) and checks the system tools the scenarios need; fails the run if one is missing.
import { spawnSync } from 'node:child_process'
import { REPO_ROOT } from '../../support/process.js'
import { hasGo } from '../../support/go-oracle.js'
import { ensureSystemTools } from '../../support/global-setup.js'

const TOOLS: Array<[string, string]> = [
  ['prlimit', 'util-linux'],
  ['openssl', 'openssl']
]

function has (tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
}

export default async function setup (): Promise<void> {
  ensureSystemTools()
  const missing = TOOLS.filter(([tool]) => !has(tool)).map(([tool, pkg]) => `${tool} (Debian: ${pkg})`)
  if (!hasGo()) missing.push('go (Debian: golang-go)')
  if (missing.length > 0) throw new Error(`the reliability suite needs: ${missing.join(', ')}`)
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`building dist/ failed:\n${build.stdout}${build.stderr}`)
}
