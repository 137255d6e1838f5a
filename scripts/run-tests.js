#!/usr/bin/env node
// One vitest suite (the whole default suite, or the one of `--config <file>`) run by a given node binary, counted from
// vitest's JSON report. Every test is required: a skipped or todo test fails the run, as does a suite that collected
// no tests. scripts/test-on-lts.js runs it on each tested Node; run directly (`node scripts/run-tests.js [--config
// <file>] [vitest arguments]`), it runs on this node and prints the plain closing line `N passed, N failed`.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const VITEST = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs')

/** `--config <file>` (or `--config=<file>`) taken out of `args`: `{ config, rest }`; throws without a file. */
export function takeConfig (args) {
  const rest = [...args]
  const at = rest.findIndex((a) => a === '--config' || a.startsWith('--config='))
  if (at < 0) return { config: undefined, rest }
  const config = rest[at].includes('=') ? rest[at].slice('--config='.length) : rest[at + 1]
  if (config === undefined || config === '') throw new Error('--config needs a file')
  rest.splice(at, rest[at].includes('=') ? 1 : 2)
  return { config, rest }
}

/** The report's name: one per config (and per `tag`), so runs one after the other never read each other's report. */
function reportName (config, tag) {
  const suite = config === undefined ? '' : basename(config).replace(/\.[^.]*$/, '').replace(/^vitest\.|\.config$/g, '')
  return ['vitest-report', suite, tag].filter((p) => p !== undefined && p !== '').join('-').replace(/[^\w.-]/g, '_')
}

/**
 * Runs vitest's CLI on `node` with `env` and returns `{ passed, failed, skipped, ok }`; `failed` counts failed tests
 * and failed files, `ok` is false on any failure, skip, empty suite or non-zero exit. Prints the skipped tests.
 */
export function runSuite ({ node = process.execPath, env = process.env, config, args = [], tag }) {
  const report = join(REPO_ROOT, '.cache', `${reportName(config, tag)}.json`)
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true })
  rmSync(report, { force: true })
  const run = spawnSync(node, [
    VITEST, 'run', ...(config === undefined ? [] : ['--config', config]),
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args
  ], { stdio: 'inherit', env, cwd: REPO_ROOT })

  let results
  try {
    results = JSON.parse(readFileSync(report, 'utf8'))
  } catch {
    console.log('vitest produced no report')
    return { passed: 0, failed: 1, skipped: 0, ok: false }
  }
  const passed = results.numPassedTests ?? 0
  const failed = (results.numFailedTests ?? 0) + (results.numFailedTestSuites ?? 0)
  const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
  for (const file of skipped > 0 ? results.testResults ?? [] : []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') console.log(`required test skipped: ${t.fullName}`)
    }
  }
  return { passed, failed, skipped, ok: run.status === 0 && failed === 0 && skipped === 0 && passed > 0 }
}

/** The closing line of counts (skipped tests count as failed). */
export function summary ({ passed, failed, skipped }) {
  return `${passed} passed, ${failed + skipped} failed${skipped > 0 ? ` (${skipped} skipped)` : ''}`
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let parsed
  try {
    parsed = takeConfig(process.argv.slice(2))
  } catch (err) {
    console.log(err.message)
    console.log('0 passed, 1 failed')
    process.exit(1)
  }
  const result = runSuite({ config: parsed.config, args: parsed.rest })
  console.log(summary(result))
  process.exit(result.ok ? 0 : 1)
}
