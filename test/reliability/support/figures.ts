// Each scenario's measured figures (requests sent and answered, errors, p99, peak memory, fds before and after),
// written as JSON to .cache/reliability/<scenario>.json: the README's reliability table is built from the last run.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../../support/process.js'

export const FIGURES_DIR = join(REPO_ROOT, '.cache', 'reliability')

export type Figures = Record<string, unknown>

/** Writes (replaces) the figures of `scenario`, stamped with the time of the run. */
export function writeFigures (scenario: string, figures: Figures): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(scenario)) throw new Error(`scenario name ${scenario} must be kebab-case`)
  mkdirSync(FIGURES_DIR, { recursive: true })
  const file = join(FIGURES_DIR, `${scenario}.json`)
  writeFileSync(file, JSON.stringify({ scenario, at: new Date().toISOString(), ...figures }, null, 2) + '\n')
  return file
}

/** Every scenario's last figures, by scenario name. */
export function readAllFigures (): Record<string, Figures> {
  let files: string[]
  try {
    files = readdirSync(FIGURES_DIR).filter((f) => f.endsWith('.json'))
  } catch {
    return {}
  }
  return Object.fromEntries(files.map((f) => [f.slice(0, -5), JSON.parse(readFileSync(join(FIGURES_DIR, f), 'utf8')) as Figures]))
}
