#!/usr/bin/env node
// Runs a vitest suite (the whole default suite, or the one of `--config <file>`), then prints the plain closing line
// `N passed, N failed` from vitest's JSON report. Every test is required: a skipped or todo test fails the run, as
// does a suite that collected no tests. Other arguments go to vitest as they are.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { basename } from 'node:path'

const args = process.argv.slice(2)
const at = args.findIndex((a) => a === '--config' || a.startsWith('--config='))
let config
if (at >= 0) {
  config = args[at].includes('=') ? args[at].slice('--config='.length) : args[at + 1]
  if (config === undefined || config === '') {
    console.log('--config needs a file')
    console.log('0 passed, 1 failed')
    process.exit(1)
  }
  args.splice(at, args[at].includes('=') ? 1 : 2)
}

// one report per config, so two suites run one after the other never read each other's report
const suite = config === undefined ? '' : basename(config).replace(/\.[^.]*$/, '').replace(/^vitest\.|\.config$/g, '')
const name = suite === '' ? 'vitest-report' : `vitest-report-${suite.replace(/[^\w.-]/g, '_')}`
const report = `.cache/${name}.json`
mkdirSync('.cache', { recursive: true })
rmSync(report, { force: true })

const run = spawnSync('npx', [
  'vitest', 'run', ...(config === undefined ? [] : ['--config', config]),
  '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args
], { stdio: 'inherit' })

let results
try {
  results = JSON.parse(readFileSync(report, 'utf8'))
} catch {
  console.log('vitest produced no report')
  console.log('0 passed, 1 failed')
  process.exit(1)
}

const passed = results.numPassedTests ?? 0
const failed = (results.numFailedTests ?? 0) + (results.numFailedTestSuites ?? 0)
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
if (skipped > 0) {
  for (const file of results.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') console.log(`required test skipped: ${t.fullName}`)
    }
  }
}
const ok = run.status === 0 && failed === 0 && skipped === 0 && passed > 0
console.log(`${passed} passed, ${failed + skipped} failed${skipped > 0 ? ` (${skipped} skipped)` : ''}`)
process.exit(ok ? 0 : 1)
