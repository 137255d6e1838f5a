// The tunnel scenarios of `npm run bench`: our tunnel pair vs an HAProxy pair vs a stunnel pair (and plain TCP), each
// proxy its own process on one machine, in rotating rounds: bulk throughput through the pair and the cost of new
// connections through it (the forward proxy's plain TCP in, mTLS between the two, the target behind).
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { issueServerCert } from '../src/tools/pki/index.js'
import { makeTestPki, type TestCert, type TestPki } from '../test/support/pki.js'
import { ensureHaproxy } from '../test/support/haproxy.js'
import { ensureStunnel } from '../test/support/peers.js'
import { median, type TunnelResult } from './results.js'
import { bulk, connections, startSink, type BulkSample, type ConnSample } from './tunnel-load.js'
import { startHaproxyPair, startOurPair, startStunnelPair, type Pair, type PairFiles } from './tunnel-pairs.js'

export interface TunnelOptions { rounds: number, mib: number, warmup: number, duration: number, concurrency: number }
const log = (line: string): void => { process.stderr.write(line + '\n') }

interface Row { name: string, bulk: BulkSample[], pair: ConnSample[] }

async function pairFiles (pki: TestPki): Promise<PairFiles> {
  const issued = await issueServerCert(pki.root, { cn: 'server.example.com', dns: ['server.example.com', 'controller.example.com'] })
  const base = join(pki.dir, 'bench-server')
  await writeFile(`${base}.chain.pem`, issued.chainPem)
  await writeFile(`${base}.key.pem`, issued.keyPem, { mode: 0o600 })
  const server: TestCert = { ...issued, name: 'bench-server', certPath: `${base}.chain.pem`, keyPath: `${base}.key.pem`, chainPath: `${base}.chain.pem` }
  const client = await pki.device('client', 'ec', { subject: 'CN=client, OU=bluechi-agents', dns: ['client.example.com'] })
  return { server, client, ca: pki.root.certPath }
}

const fmt = (x: number, digits = 0): string => Number.isNaN(x) ? '—' : x.toFixed(digits)

const version = (cmd: string, arg: string): string => {
  const res = spawnSync(cmd, [arg], { encoding: 'utf8' })
  return `${res.stdout}${res.stderr}`.split('\n').find((l) => /version|stunnel \d/i.test(l))?.replace(/ - https?:\S+/, '').trim() ?? 'unknown'
}

async function measure (o: TunnelOptions, p: Pair | undefined, sinkPort: number, row: Row): Promise<void> {
  const c = { concurrency: o.concurrency, warmupMs: o.warmup * 1000, durationMs: o.duration * 1000 }
  const pids = p === undefined ? [] : [p.forwardPid, p.reversePid]
  row.bulk.push(await bulk(p?.entry ?? sinkPort, o.mib * 1024 * 1024, pids))
  row.pair.push(await connections({ port: p?.entry ?? sinkPort, pids }, c))
  log(`  ${row.name}: ${fmt(row.bulk.at(-1)?.mibPerS ?? NaN)} MiB/s, ${fmt(row.pair.at(-1)?.perSecond ?? NaN)} conn/s through`)
}

type Starter = (dir: string, f: PairFiles, target: number) => Promise<Pair>
const PAIRS: Array<{ name: string, start?: Starter }> = [
  { name: 'plain TCP (no proxy)' },
  { name: 'mtls-ambassador pair', start: startOurPair },
  { name: 'HAProxy pair', start: startHaproxyPair },
  { name: 'stunnel pair', start: startStunnelPair }
]

/** The medians of every pair over `o.rounds` rotating rounds. */
export async function tunnelBench (o: TunnelOptions): Promise<TunnelResult[]> {
  ensureHaproxy()
  ensureStunnel()
  const pki = await makeTestPki()
  const sink = await startSink()
  const files = await pairFiles(pki)
  const rows: Row[] = PAIRS.map((p) => ({ name: p.name, bulk: [], pair: [] }))
  try {
    for (let round = 0; round < o.rounds; round++) {
      log(`tunnel round ${round + 1}/${o.rounds}`)
      for (let i = 0; i < PAIRS.length; i++) {
        const k = (i + round) % PAIRS.length
        const start = PAIRS[k]?.start
        const pair = start === undefined ? undefined : await start(pki.dir, files, sink.port)
        try {
          await measure(o, pair, sink.port, rows[k] as Row)
        } finally {
          await pair?.stop()
        }
      }
    }
  } finally {
    await sink.close()
    await pki.cleanup()
  }
  return rows.map((r) => ({
    name: r.name,
    mibPerS: median(r.bulk.map((b) => b.mibPerS)),
    cpuMsPerMib: median(r.bulk.map((b) => b.cpuMsPerMib)),
    connPerS: median(r.pair.map((c) => c.perSecond)),
    pairCpuUsPerConn: median(r.pair.map((c) => c.serverCpuUs))
  }))
}

export const tunnelVersions = (): string => `${version('haproxy', '-v')} (nbthread 1); ${version('stunnel4', '-version')}`
