// The README's configuration table, generated from the catalogue (`npm run docs` writes it; a test checks it):
// key, MTLS_* variable, default and meaning of every setting.
import { readFileSync, writeFileSync } from 'node:fs'
import { FIELDS } from '../config/schema.js'

const START = '<!-- config-table:start -->'
const END = '<!-- config-table:end -->'

function defaultText (schema: unknown): string {
  const d = (schema as { default?: unknown }).default
  if (d === '' || d === undefined) return '—'
  return `\`${Array.isArray(d) ? (d.length === 0 ? '[]' : JSON.stringify(d)) : String(d)}\``
}

/** The table's Markdown, header included. */
export function configTable (): string {
  const rows = Object.entries(FIELDS).map(([key, f]) => `| \`${key}\` | \`${f.env}\` | ${defaultText(f.schema)} | ${f.doc} |`)
  return ['| key | env | default | meaning |', '|---|---|---|---|', ...rows].join('\n')
}

/** The README text with its configuration table replaced by the generated one. */
export function withConfigTable (readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error('README has no config-table markers')
  return `${readme.slice(0, start + START.length)}\n${configTable()}\n${readme.slice(end)}`
}

/** `npm run docs`: rewrites README.md's configuration table. */
export function writeReadmeConfig (path = 'README.md'): void {
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')))
}
