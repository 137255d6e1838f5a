#!/usr/bin/env node
// `npm test`: lint, typecheck, build and the whole suite on the Node the image ships, then the unit and integration
// suites on the oldest supported major (scripts/node-lts.js provides both binaries), and one closing line
// `N passed, N failed` over both runs. `--config <file>` (`npm run test:unit`, `npm run test:reliability`): that
// suite on the shipped Node only. Other arguments go to vitest. Each run puts its binary first on PATH, so every
// `node`, `npx` and tool the tests start runs on it too. A failing step (lint, typecheck, build, fetching a binary)
// ends the run as one failure.
import { spawnSync } from 'node:child_process'
import { describeNode, ensureNode, nodeEnv, REPO_ROOT, testNodes } from './node-lts.js'
import { runSuite, takeConfig } from './run-tests.js'

function plan (nodes, config, args) {
  if (config !== undefined) return [{ version: nodes.shipped, what: `the suite of ${config}`, steps: [], suite: { config, args } }]
  return [
    {
      version: nodes.shipped,
      what: 'lint, typecheck, build and the whole suite',
      steps: ['lint', 'typecheck', 'build'],
      suite: { args: ['--coverage', ...args] }
    },
    {
      version: nodes.oldest,
      what: 'the unit and integration suites',
      steps: [],
      suite: { args: ['test/unit/', 'test/integration/', ...args], tag: `node${nodes.oldest.split('.')[0]}` }
    }
  ]
}

function finish (passed, failed, lines) {
  for (const line of lines) console.log(line)
  console.log(`${passed} passed, ${failed} failed`)
  process.exit(failed === 0 && passed > 0 ? 0 : 1)
}

let runs
try {
  const { config, rest } = takeConfig(process.argv.slice(2))
  runs = plan(testNodes(), config, rest).map((run) => ({ ...run, bin: ensureNode(run.version) }))
} catch (err) {
  finish(0, 1, [`cannot prepare the test run: ${err.message}`])
}

let passed = 0
let failed = 0
const lines = []
for (const run of runs) {
  const env = nodeEnv(run.bin)
  const node = describeNode(run.bin)
  console.log(`\n== Node ${node}: ${run.what} ==\n`)
  for (const step of run.steps) {
    const done = spawnSync('npm', ['run', step], { stdio: 'inherit', env, cwd: REPO_ROOT })
    if (done.status !== 0) finish(passed, failed + 1, [...lines, `Node ${node}: npm run ${step} failed`])
  }
  const result = runSuite({ node: run.bin, env, ...run.suite })
  const count = result.failed + result.skipped + (result.ok || result.failed + result.skipped > 0 ? 0 : 1)
  passed += result.passed
  failed += count
  lines.push(`Node ${node}, ${run.what}: ${result.passed} passed, ${count} failed` +
    (result.skipped > 0 ? ` (${result.skipped} skipped)` : ''))
}
finish(passed, failed, lines)
