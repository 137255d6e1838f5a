// `npm run bench` (`-- --quick` for a short run): the gateway, HAProxy (1 thread), nginx (1 worker), a bare Node
// https server and the Mender simulator direct, each a real process with the same certificates, TLS settings and
// an access-log line per request to a file; wrk drives them in rotating rounds. Headline: the server's CPU per
// request or handshake and its ratios. Also idle memory per connection, the tunnel pairs, 1 vs all workers.
// Writes bench/results.md, bench/results.json and bench/ratios.svg.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_USER } from '../src/tools/simulator/context.js'
import { authRequest, deviceAgent, postAuth, tlsProbe } from '../test/support/device.js'
import { makeTestPki, type TestPki } from '../test/support/pki.js'
import { coldDevices, makeBenchCa, type BenchCa } from './devices.js'
import { startHaproxy } from './haproxy.js'
import { idleMemory } from './memory.js'
import {
  cliCommand, GATEWAY_BENCH_ENV, REPO_ROOT, startGatewayProcess, startSimulatorProcess, stopChild, type Child
} from './procs.js'
import { writeResults, type RunInfo } from './report.js'
import {
  BARE, DIRECT, GATEWAY, HAPROXY, NGINX, SCENARIOS, summarize,
  type Measurement, type MemoryResult, type Results, type ScenarioId, type TunnelResult, type WorkersResult
} from './results.js'
import { measure, type BenchTarget, type ScenarioContext } from './scenarios.js'
import { startBare, startNginx, type TlsFiles } from './servers.js'
import { tunnelBench, tunnelVersions } from './tunnel.js'
import { measureWorkers } from './workers.js'
import { buildShim } from './wrk.js'

const PARTS = ['http', 'memory', 'workers', 'tunnel'] as const
type Part = typeof PARTS[number]

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    idle: { type: 'string' },
    only: { type: 'string', default: PARTS.join(',') },
    scenarios: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
    // measure only these targets (comma-separated names as in the table), e.g. --targets gateway,HAProxy
    targets: { type: 'string' },
    workers: { type: 'string', default: 'auto' },
    'no-build': { type: 'boolean', default: false },
    // renders results.md and ratios.svg again from a results.json (no measurement)
    'report-only': { type: 'string' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench') },
    // writes a V8 CPU profile of the gateway into this folder when it stops (open it in Chrome DevTools)
    'gateway-cpu-prof': { type: 'string' }
  }
})

const quick = args.quick === true
const num = (v: string | undefined, quickDefault: number, fullDefault: number, name: string): number => {
  const n = v === undefined ? (quick ? quickDefault : fullDefault) : Number(v)
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
  return n
}
const settings = {
  rounds: num(args.rounds, 1, 3, 'rounds'),
  // wrk takes whole seconds
  seconds: Math.max(1, Math.round(num(args.duration, 1, 5, 'duration'))),
  warmup: Math.round(num(args.warmup, 1, 1, 'warmup')),
  connections: num(args.connections, 16, 16, 'connections'),
  idle: (args.idle ?? (quick ? '1000' : '1000,5000,10000')).split(',').map(Number).filter((n) => n > 0),
  parts: new Set(args.only.split(',').map((p) => p.trim()) as Part[]),
  targets: args.targets?.split(',').map((t) => t.trim()),
  scenarios: args.scenarios.split(',').map((s) => s.trim()).filter((s): s is ScenarioId => s in SCENARIOS),
  tunnel: quick
    ? { rounds: 1, mib: 32, warmup: 0.5, duration: 1, concurrency: 8 }
    : { rounds: 3, mib: 256, warmup: 1, duration: 3, concurrency: 8 }
}

const log = (line: string): void => { process.stderr.write(line + '\n') }
const sh = (cmd: string, a: string[]): { ok: boolean, out: string } => {
  const r = spawnSync(cmd, a, { encoding: 'utf8', cwd: REPO_ROOT })
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}

/** Raises this process's open-file limit (children inherit it) to `want`, or to its hard limit; returns it. */
function raiseFdLimit (want: number): number {
  const limits = (): [number, number] => {
    const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+)\s+(\d+)/m)
    return [Number(m?.[1] ?? 1024), Number(m?.[2] ?? 1024)]
  }
  if (!sh('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`]).ok) {
    const hard = limits()[1]
    sh('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`])
  }
  return limits()[0]
}

function prepare (): { fdLimit: number, shim: string } {
  const deps = sh('bash', [join(REPO_ROOT, 'scripts', 'test-deps.sh'), '--bench'])
  if (!deps.ok) throw new Error(`benchmark packages missing:\n${deps.out}`)
  // a full run measures the built gateway; --quick uses dist/ only when it is current (else the sources via tsx)
  if (!quick && args['no-build'] !== true && cliCommand().from === 'src') {
    log('building dist/ (npm run build) so the gateway runs as it ships')
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' })
  }
  return { fdLimit: raiseFdLimit(65536), shim: buildShim() }
}

interface Stack {
  targets: BenchTarget[]
  gatewayUrl: string
  simPort: number
  simUrl: string
  files: TlsFiles & { gateway: { serverCert: string, serverKey: string, tenantCa: string } }
}

async function startStack (dir: string, pki: TestPki, ca: BenchCa, children: Child[], fdLimit: number): Promise<Stack> {
  const trust = join(dir, 'trust.pem')
  await writeFile(trust, pki.trust.pem + ca.certPem)
  const files = {
    chain: pki.server.chainPath,
    key: pki.server.keyPath,
    ca: trust,
    gateway: { serverCert: pki.server.chainPath, serverKey: pki.server.keyPath, tenantCa: trust }
  }
  const sim = await startSimulatorProcess(dir)
  children.push(sim.child)
  const simPort = Number(new URL(sim.url).port)
  const profile = args['gateway-cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args['gateway-cpu-prof'])]
  const gw = await startGatewayProcess(dir, sim.url, files.gateway, DEFAULT_USER, {
    nodeArgs: profile, env: { ...GATEWAY_BENCH_ENV, MTLS_WORKERS: '1' }
  })
  children.push(gw.child)
  const hp = await startHaproxy({
    dir,
    certAndKeyPem: pki.server.chainPem + pki.server.keyPem,
    tenantCaPath: trust,
    backendPort: simPort,
    threads: 1,
    maxconn: Math.floor((fdLimit - 100) / 2),
    onChild: (c) => children.push(c)
  })
  const ng = await startNginx(dir, simPort, files, fdLimit)
  children.push(ng.child)
  const bare = await startBare(dir, files)
  children.push(bare.child)
  const tls = (name: string, port: number, c: Child): BenchTarget =>
    ({ name, url: `https://localhost:${port}`, tls: true, pid: c.proc.pid ?? 0 })
  const targets = [
    tls(GATEWAY, gw.port, gw.child), tls(HAPROXY, hp.port, hp.child), tls(NGINX, ng.port, ng.child),
    tls(BARE, bare.port, bare.child), { name: DIRECT, url: sim.url, tls: false, pid: sim.child.proc.pid ?? 0 }
  ]
  const chosen = settings.targets === undefined ? targets : targets.filter((t) => settings.targets?.includes(t.name))
  return { targets: chosen, gatewayUrl: `https://localhost:${gw.port}`, simPort, simUrl: sim.url, files }
}

/** Admits the bench device through the gateway (auth request → preauthorization → Mender's JWT). */
async function deviceToken (pki: TestPki, gatewayUrl: string): Promise<string> {
  const agent = deviceAgent(pki, pki.devices.ec)
  try {
    const answer = await postAuth(agent, gatewayUrl, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:be:01' }))
    if (answer.status !== 200) throw new Error(`auth request through the gateway: ${answer.status} ${answer.text}`)
    return answer.text.trim()
  } finally {
    await agent.close()
  }
}

/** Every TLS target must refuse a client without a certificate, or the comparison is not like for like. */
async function checkRefusesCertless (targets: BenchTarget[], pki: TestPki): Promise<void> {
  for (const t of targets.filter((x) => x.tls)) {
    const probe = await tlsProbe(Number(new URL(t.url).port), { ca: pki.root.certPem })
    // nginx completes the handshake and answers its own 400 instead of aborting it: a refusal all the same
    const refused = probe.response === undefined || probe.response.includes('No required SSL certificate was sent')
    if (!refused) throw new Error(`${t.name} answered a client without a certificate: ${probe.response?.slice(0, 80) ?? ''}`)
  }
}

const TLS_ONLY: ScenarioId[] = ['full', 'resume', 'auth-cold']

async function httpScenarios (stack: Stack, c: ScenarioContext): Promise<Measurement[]> {
  const out: Measurement[] = []
  for (let round = 0; round < settings.rounds; round++) {
    const order = stack.targets.map((_, i) => stack.targets[(i + round) % stack.targets.length] as BenchTarget)
    for (const id of settings.scenarios) {
      for (const t of order) {
        if (!t.tls && TLS_ONLY.includes(id)) continue
        // --quick warms each target up once, in its first scenario (the later ones then start warm)
        const warm = !quick || id === settings.scenarios[0] ? c : { ...c, warmup: 0 }
        const m = await measure(id, t, round, warm)
        out.push(m)
        log(`round ${round + 1}/${settings.rounds} ${SCENARIOS[id].label.padEnd(44)} ${t.name.padEnd(16)} ` +
          `server ${m.serverCpuUs.toFixed(0).padStart(5)} µs  wrk ${m.clientCpuUs.toFixed(0).padStart(4)} µs  ` +
          `${m.rps.toFixed(0).padStart(6)}/s  p50 ${m.p50Ms.toFixed(2)} p99 ${m.p99Ms.toFixed(2)} ms` +
          `${Number.isFinite(m.resumedPct) ? `  resumed ${m.resumedPct.toFixed(1)} %` : ''}` +
          `${m.socketErrors + m.statusErrors > 0 ? `  errors ${m.socketErrors}/${m.statusErrors}` : ''}`)
      }
    }
  }
  return out
}

function coldPools (dir: string, ca: BenchCa): ScenarioContext['coldPool'] {
  // the gateway caches what it learns about a device: it gets new devices every round; the proxies cache nothing
  const size = Math.ceil(settings.seconds * 300)
  const shared: { pool?: Promise<Awaited<ReturnType<ScenarioContext['coldPool']>>> } = {}
  const make = async (tag: string): Promise<Awaited<ReturnType<ScenarioContext['coldPool']>>> => {
    const { list, devices } = await coldDevices(ca, size, join(dir, 'cold', tag), tag)
    return { list, bodies: devices }
  }
  return async (t, round) => {
    if (t.name === GATEWAY) return await make(`gw${round}`)
    shared.pool ??= make('proxies')
    return await shared.pool
  }
}

async function memoryScenario (stack: Stack, pki: TestPki, fdLimit: number): Promise<MemoryResult[]> {
  // a proxy holds two descriptors per connection at worst (the gateway caps itself at (limit − 64) / 2)
  const cap = Math.floor((fdLimit - 200) / 2 / 100) * 100
  const levels = [...new Set(settings.idle.map((n) => Math.min(n, cap)))]
  if (levels.some((n, i) => n !== settings.idle[i])) log(`open-file limit ${fdLimit}: idle levels ${levels.join(', ')}`)
  const out: MemoryResult[] = []
  for (const t of stack.targets.filter((x) => x.tls)) {
    const m = await idleMemory(t, { cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath }, {
      levels, ca: pki.root.certPath, settleMs: quick ? 1000 : 3000, afterCloseMs: quick ? 2000 : 10_000
    })
    out.push(m)
    log(`idle ${t.name.padEnd(16)} baseline ${(m.baselineKiB / 1024).toFixed(1)} MiB  ` +
      `${m.levels.map((l) => `${l.connections}: ${l.kibPerConnection.toFixed(1)} KiB/conn`).join('  ')}  ` +
      `after close ${(m.afterCloseKiB / 1024).toFixed(1)} MiB`)
  }
  return out
}

function versions (): string[] {
  const first = (cmd: string, a: string[]): string => sh(cmd, a).out.split('\n')[0]?.replace(/ - https?:\S+/, '').trim() ?? '?'
  return [
    `Node.js ${process.version}; gateway from ${cliCommand().from === 'dist' ? 'dist/ (built)' : 'the sources via tsx'}`,
    `${first('haproxy', ['-v'])} (nbthread 1); ${first('nginx', ['-v'])} (worker_processes 1); ${first('wrk', ['-v'])}`,
    `${first('openssl', ['version'])}; tunnel: ${tunnelVersions()}`
  ]
}

async function main (): Promise<void> {
  const { fdLimit, shim } = prepare()
  const dir = await mkdtemp(join(tmpdir(), 'mtls-bench-'))
  const children: Child[] = []
  const results: Results = { summaries: [], memory: [], tunnel: [] }
  // Ctrl-C or SIGTERM: stop the servers this run started before leaving
  const onSignal = (): void => {
    log('interrupted: stopping the servers')
    Promise.all(children.map(async (c) => await stopChild(c)))
      .finally(() => { process.exit(130) })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const pki = await makeTestPki(join(dir, 'pki'))
    const ca = makeBenchCa()
    const stack = await startStack(dir, pki, ca, children, fdLimit)
    const token = await deviceToken(pki, stack.gatewayUrl)
    await checkRefusesCertless(stack.targets, pki)
    const ctx: ScenarioContext = {
      token,
      device: { cert: pki.devices.ec.chainPath, key: pki.devices.ec.keyPath },
      warmAuth: authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:be:01' }),
      coldPool: coldPools(dir, ca),
      shim,
      dir,
      seconds: settings.seconds,
      warmup: settings.warmup,
      connections: settings.connections
    }
    const began = Date.now()
    const took = (what: string): void => log(`${what} done after ${((Date.now() - began) / 1000).toFixed(0)} s`)
    if (settings.parts.has('http')) results.summaries = summarize(await httpScenarios(stack, ctx))
    took('request scenarios')
    if (settings.parts.has('memory')) results.memory = await memoryScenario(stack, pki, fdLimit)
    took('idle memory')
    // the simulator stays (the device token is its own); the servers go, so the workers runs have the cores
    await Promise.all(children.splice(1).map(async (c) => await stopChild(c)))
    if (settings.parts.has('workers')) {
      const w: WorkersResult = await measureWorkers({
        dir,
        pki,
        simUrl: stack.simUrl,
        ctx,
        workers: args.workers,
        seconds: quick ? 2 : Math.max(3, settings.seconds),
        warmup: quick ? 1 : 2,
        rounds: settings.rounds,
        log
      })
      results.workers = w
    }
    took('workers')
    if (settings.parts.has('tunnel')) results.tunnel = await tunnelBench(settings.tunnel) as TunnelResult[]
    took('tunnel')
    await report(results)
  } finally {
    await Promise.all(children.map(async (c) => await stopChild(c)))
    if (process.env.BENCH_KEEP_DIR === undefined) await rm(dir, { recursive: true, force: true })
    else log(`run folder kept: ${dir}`)
  }
}

async function report (results: Results): Promise<void> {
  const argv = process.argv.slice(2).join(' ')
  const md = await writeResults({
    md: join(args.out, 'results.md'), json: join(args.out, 'results.json'), svg: join(args.out, 'ratios.svg')
  }, results, {
    command: `npm run bench${argv === '' ? '' : ' -- ' + argv}`,
    versions: versions(),
    settings: [
      `${settings.rounds} round(s), targets in a rotating order; per measurement ${settings.warmup} s warm-up + ${settings.seconds} s measured (wrk, 1 thread)`,
      `keep-alive: ${settings.connections} connections; new connection per request: 4 at a time; cold auth: 1 connection, a new device per request`,
      `idle connections: ${settings.idle.join(', ')}; tunnel: ${settings.tunnel.rounds} round(s), ${settings.tunnel.mib} MiB bulk`,
      `cores: ${cpus().length}`
    ],
    notes: [
      'ECDSA P-256 server and device keys, TLS 1.3, client certificate required by every TLS target',
      'server CPU: user + system time of the serving process tree from /proc (proxy, or the simulator for direct) per request or handshake; the simulator behind the proxies is not counted',
      'gateway bench settings: MTLS_WORKERS=1 (except the workers rows), no per-IP / total connection or auth-rate limits, headers and request timeouts 1 h so idle connections stay (the other targets get the same)'
    ]
  })
  process.stdout.write(`\n${md}\n`)
  log(`results written to ${join(args.out, 'results.{md,json}')} and ratios.svg`)
}

async function reportOnly (path: string): Promise<void> {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Results & RunInfo
  const num = (v: unknown): number => typeof v === 'number' ? v : NaN
  // JSON has no NaN: what was not measured comes back as null
  const summaries = json.summaries.map((x) => ({
    ...x,
    serverCpuUs: num(x.serverCpuUs),
    clientCpuUs: num(x.clientCpuUs),
    rps: num(x.rps),
    p50Ms: num(x.p50Ms),
    p99Ms: num(x.p99Ms),
    resumedPct: num(x.resumedPct),
    perRound: x.perRound.map(num)
  }))
  const info = { command: json.command, versions: json.versions, settings: json.settings, notes: json.notes }
  await writeResults({
    md: join(args.out, 'results.md'), json: join(args.out, 'results.json'), svg: join(args.out, 'ratios.svg')
  }, { ...json, summaries }, info)
}

const run = args['report-only'] === undefined ? main() : reportOnly(args['report-only'])
run.catch((err: unknown) => {
  log(`benchmark failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
})
