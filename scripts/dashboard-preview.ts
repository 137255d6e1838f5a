// `npm run dashboard:preview`: a picture of extra/grafana/mtls-ambassador.json's panels with real data. Starts a
// gateway and two tunnels in this process under a little synthetic load, scrapes their /metrics every second,
// evaluates every panel's PromQL over the scrapes and renders the panels into an HTML page, then screenshots it with
// headless Chromium (Debian: apt-get install chromium). A preview rendering of the panels, not Grafana itself.
//   node --import tsx scripts/dashboard-preview.ts [--seconds 90] [--out docs/dashboard.png] [--save F] [--from F]
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadDashboard } from '../test/support/dashboard.js'
import { capture, type Scrape } from './dashboard-preview/capture.js'
import { parseExposition, SeriesStore } from './dashboard-preview/evaluate.js'
import { renderPage } from './dashboard-preview/render.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    out: { type: 'string', default: 'docs/dashboard.png' },
    save: { type: 'string' },
    from: { type: 'string' },
    chromium: { type: 'string', default: 'chromium' }
  }
})

const scrapes: Scrape[] = values.from !== undefined
  ? JSON.parse(await readFile(values.from, 'utf8')) as Scrape[]
  : await capture(Number(values.seconds))
if (values.save !== undefined) await writeFile(values.save, JSON.stringify(scrapes))

const store = new SeriesStore()
for (const s of scrapes) store.add(s.t, parseExposition(s.text, { job: 'mtls-ambassador', instance: s.instance }))
const times = [...new Set(scrapes.map((s) => s.t))].sort((a, b) => a - b)
const seconds = Math.round((times.at(-1) ?? 0) - (times[0] ?? 0))
const note = 'Preview rendering, not Grafana: the panels of extra/grafana/mtls-ambassador.json, each PromQL expression ' +
  `evaluated over ${times.length} real /metrics scrapes (1 s apart, ${seconds} s) of a gateway and two tunnels under ` +
  'synthetic load (scripts/dashboard-preview.ts; rate window 10 s).'
const { html, height } = renderPage({ dashboard: loadDashboard(), store, times, rateInterval: '10s', note })

const dir = await mkdtemp(join(tmpdir(), 'dashboard-preview-'))
try {
  const page = join(dir, 'dashboard.html')
  await writeFile(page, html)
  const out = resolve(values.out)
  execFileSync(values.chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
    `--screenshot=${out}`, `--window-size=1600,${height}`, `file://${page}`], { stdio: 'ignore', timeout: 120_000 })
  process.stdout.write(`${out}: ${times.length} scrapes, 1600x${height}\n`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
