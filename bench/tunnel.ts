// `npm run bench:tunnel`: our tunnel pair vs an HAProxy pair vs a stunnel pair (and plain TCP), each proxy its own
// process on one machine, in rotating rounds: bulk throughput through the pair and the cost of new connections
// (through the pair, and full mTLS handshakes straight to the reverse proxy); prints a Markdown table.
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createSecureContext } from 'node:tls'
import { parseArgs } from 'node:util'
import { issueServerCert } from '../src/tools/pki/index.js'
import { makeTestPki, type TestCert, type TestPki } from '../test/support/pki.js'
import { ensureHaproxy } from '../test/support/haproxy.js'
import { ensureStunnel } from '../test/support/peers.js'
import { cliCommand, REPO_ROOT } from './procs.js'
import { TUNNEL_SECTION } from './report.js'
import { bulk, connections, startSink, type BulkSample, type ConnSample, type ConnTarget } from './tunnel-load.js'
import { startHaproxyPair, startOurPair, startStunnelPair, type Pair, type PairFiles } from './tunnel-pairs.js'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    mib: { type: 'string', default: '256' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results.md') }
  }
})
const num = (name: keyof typeof args): number => {
  const n = Number(args[name])
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}
const log = (line: string): void => { process.stderr.write(line + '\n') }

interface Row { name: string, bulk: BulkSample[], pair: ConnSample[], direct: ConnSample[] }

async function pairFiles (pki: TestPki): Promise<PairFiles> {
  const issued = await issueServerCert(pki.root, { cn: 'server.example.com', dns: ['server.example.com', 'controller.example.com'] })
  const base = join(pki.dir, 'bench-server')
  await writeFile(`${base}.chain.pem`, issued.chainPem)
  await writeFile(`${base}.key.pem`, issued.keyPem, { mode: 0o600 })
  const server: TestCert = { ...issued, name: 'bench-server', certPath: `${base}.chain.pem`, keyPath: `${base}.key.pem`, chainPath: `${base}.chain.pem` }
  const client = await pki.device('client', 'ec', { subject: 'CN=client, OU=bluechi-agents', dns: ['client.example.com'] })
  return { server, client, ca: pki.root.certPath }
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] ?? NaN : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2
}
const fmt = (x: number, digits = 0): string => Number.isNaN(x) ? '—' : x.toFixed(digits)

function table (rows: Row[]): string {
  const head = '| pair | bulk MiB/s | proxies CPU ms/MiB | conn/s through the pair | pair CPU µs/conn | ' +
    'full mTLS handshakes/s to the server | server CPU µs/conn | client CPU µs/handshake | MiB/s per round | errors |'
  const lines = [head, '|---|--:|--:|--:|--:|--:|--:|--:|---|--:|']
  for (const r of rows) {
    const m = (xs: ConnSample[], k: keyof ConnSample): number => median(xs.map((x) => x[k]))
    const errors = [...r.pair, ...r.direct].reduce((n, s) => n + s.errors, 0)
    lines.push(`| ${r.name} | ${fmt(median(r.bulk.map((b) => b.mibPerS)))} | ${fmt(median(r.bulk.map((b) => b.cpuMsPerMib)), 2)} | ` +
      `${fmt(m(r.pair, 'perSecond'))} | ${fmt(m(r.pair, 'serverCpuUs'))} | ${fmt(m(r.direct, 'perSecond'))} | ` +
      `${fmt(m(r.direct, 'serverCpuUs'))} | ${fmt(m(r.direct, 'clientCpuUs'))} | ${r.bulk.map((b) => fmt(b.mibPerS)).join(', ')} | ${errors} |`)
  }
  return lines.join('\n')
}

const version = (cmd: string, arg: string): string =>
  (spawnSync(cmd, [arg], { encoding: 'utf8' }).stdout + spawnSync(cmd, [arg], { encoding: 'utf8' }).stderr)
    .split('\n').find((l) => /version|stunnel \d/i.test(l))?.replace(/ - https?:\S+/, '').trim() ?? 'unknown'

async function measure (p: Pair | undefined, sinkPort: number, files: PairFiles, row: Row): Promise<void> {
  const o = { concurrency: num('concurrency'), warmupMs: num('warmup') * 1000, durationMs: num('duration') * 1000 }
  const bytes = num('mib') * 1024 * 1024
  const pids = p === undefined ? [] : [p.forwardPid, p.reversePid]
  row.bulk.push(await bulk(p?.entry ?? sinkPort, bytes, pids))
  row.pair.push(await connections({ port: p?.entry ?? sinkPort, pids }, o))
  const context = createSecureContext({ cert: files.client.chainPem, key: files.client.keyPem, ca: [await readFile(files.ca, 'utf8')] })
  const direct: ConnTarget = p === undefined
    ? { port: sinkPort, pids: [] }
    : { port: p.tls, pids: [p.reversePid], tls: { context, servername: 'server.example.com' } }
  row.direct.push(await connections(direct, o))
  log(`  ${row.name}: ${fmt(row.bulk.at(-1)?.mibPerS ?? NaN)} MiB/s, ${fmt(row.pair.at(-1)?.perSecond ?? NaN)} conn/s ` +
    `through, ${fmt(row.direct.at(-1)?.perSecond ?? NaN)} handshakes/s direct`)
}

const EXPLAINED = [
  'Medians over rounds; in each round every pair ran once, in a rotating order. Bulk: one connection carries the',
  'payload from the client through forward → reverse proxy to a target that counts it, then a half-close and the',
  'target\'s two-byte answer; proxies CPU is both proxies\' CPU time (/proc) per MiB. Through the pair: plain TCP into',
  'the forward proxy, one byte, half-close, the answer (each forward proxy resumes TLS sessions as it does by',
  'default); pair CPU is both proxies\'. Full handshakes: mTLS straight to the reverse proxy with no session to',
  'resume; server CPU is the reverse proxy\'s, client CPU the load generator\'s.'
]

type Starter = (dir: string, f: PairFiles, target: number) => Promise<Pair>
const PAIRS: Array<{ name: string, start?: Starter }> = [
  { name: 'plain TCP (no proxy)' },
  { name: 'mtls-ambassador pair', start: startOurPair },
  { name: 'HAProxy pair', start: startHaproxyPair },
  { name: 'stunnel pair', start: startStunnelPair }
]

async function main (): Promise<void> {
  ensureHaproxy()
  ensureStunnel()
  const cli = cliCommand()
  const pki = await makeTestPki()
  const sink = await startSink()
  const files = await pairFiles(pki)
  const rows: Row[] = PAIRS.map((p) => ({ name: p.name, bulk: [], pair: [], direct: [] }))
  try {
    for (let round = 0; round < num('rounds'); round++) {
      log(`round ${round + 1}`)
      for (let i = 0; i < PAIRS.length; i++) {
        const k = (i + round) % PAIRS.length
        const start = PAIRS[k]?.start
        const pair = start === undefined ? undefined : await start(pki.dir, files, sink.port)
        try {
          await measure(pair, sink.port, files, rows[k] as Row)
        } finally {
          await pair?.stop()
        }
      }
    }
  } finally {
    await sink.close()
    await pki.cleanup()
  }
  const md = table(rows)
  const cpu = cpus()
  const notes = [
    `- date: ${new Date().toISOString()}`,
    '- command: `npm run bench:tunnel`',
    `- settings: ${num('rounds')} rounds; bulk ${num('mib')} MiB one way per round; new connections: ${num('concurrency')} at a time, ` +
      `${num('warmup')} s warm-up + ${num('duration')} s measured; ECDSA P-256 keys; TLS 1.3`,
    `- Node.js: ${process.version}; tunnels run from ${cli.from === 'dist' ? 'dist/ (built)' : 'src/ via tsx'}`,
    `- ${version('haproxy', '-v')} (nbthread 1); ${version('stunnel4', '-version')}`,
    `- CPU: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} (shared machine: load generator, target and proxies on the same cores)`,
    '',
    ...EXPLAINED
  ]
  process.stdout.write(`${md}\n\n${notes.join('\n')}\n`)
  await appendResults(args.out ?? '', md, notes)
}

async function appendResults (out: string, md: string, notes: string[]): Promise<void> {
  const marker = TUNNEL_SECTION
  const previous = await readFile(out, 'utf8').catch(() => '# Benchmark results\n')
  const kept = previous.includes(marker) ? previous.slice(0, previous.indexOf(marker)) : previous.trimEnd() + '\n'
  await writeFile(out, `${kept}${marker}\n${md}\n\n${notes.join('\n')}\n`)
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
