#!/usr/bin/env node
// Runs the whole vitest suite, then prints the plain closing line `N passed, N failed` from vitest's JSON report.
// Every test is required: a skipped or todo test fails the run, as does a suite that collected no tests.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'

const report = '.cache/vitest-report.json'
mkdirSync('.cache', { recursive: true })
rmSync(report, { force: true })

const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  stdio: 'inherit'
})

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
