// `npm run bench`: direct HTTP to the Mender simulator vs HAProxy (mTLS, verify required) vs the gateway (mTLS),
// side by side in one run, in rotating rounds; prints a markdown table and writes bench/results.md.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { parseArgs } from 'node:util'
import { DEFAULT_USER } from '../src/tools/simulator/context.js'
import { makeTestPki, type TestPki } from '../test/support/pki.js'
import { authRequest, deviceAgent, postAuth, tlsProbe } from '../test/support/device.js'
import { ensureHaproxy, startHaproxy } from './haproxy.js'
import { keepAlive, negotiated, newConnections, withCpu, type LoadOptions, type Sample, type Target } from './load.js'
import { cliCommand, REPO_ROOT, startGatewayProcess, startSimulatorProcess, stopChild, type Child } from './procs.js'
import { markdownTable, summarize, writeResults, type Row } from './report.js'

const NEXT_PATH = '/api/devices/v1/deployments/device/deployments/next'
const DIRECT = 'direct (HTTP)'
const HAPROXY = 'HAProxy (mTLS)'
const GATEWAY = 'gateway (mTLS)'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    duration: { type: 'string', default: '6' },
    connections: { type: 'string', default: '32' },
    'handshake-concurrency': { type: 'string', default: '8' },
    'haproxy-threads': { type: 'string', default: '1' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results.md') },
    // writes a V8 CPU profile of the gateway into this folder when it stops (open it in Chrome DevTools)
    'gateway-cpu-prof': { type: 'string' }
  }
})

function num (name: keyof typeof args): number {
  const n = Number(args[name])
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
  return n
}

const log = (line: string): void => { process.stderr.write(line + '\n') }
const state = { aborted: false }
const aborted = (): boolean => state.aborted
const onSigint = (): void => { state.aborted = true; log('interrupted: finishing the current measurement, then cleaning up') }

/** Admits the device through the gateway (auth request → preauthorization → Mender's JWT). */
async function deviceToken (pki: TestPki, gatewayPort: number): Promise<string> {
  const agent = deviceAgent(pki, pki.devices.ec)
  try {
    const answer = await postAuth(agent, `https://localhost:${gatewayPort}`, authRequest(pki.devices.ec.keyPem, { mac: '02:00:00:00:be:01' }))
    if (answer.status !== 200) throw new Error(`auth request through the gateway: ${answer.status} ${answer.text}`)
    return answer.text.trim()
  } finally {
    await agent.close()
  }
}

function tlsTarget (name: string, port: number, pki: TestPki, pid: number | undefined): Target {
  const client = { ca: pki.root.certPem, cert: pki.devices.ec.chainPem, key: pki.devices.ec.keyPem }
  const target: Target = { name, url: `https://localhost:${port}`, port, tls: { ...client, context: createSecureContext(client) } }
  if (pid !== undefined) target.pid = pid
  return target
}

/** Both mTLS targets must refuse a client without a certificate, or the comparison is not like for like. */
async function checkRefusesCertless (targets: Target[], pki: TestPki): Promise<void> {
  for (const t of targets.filter((x) => x.tls !== undefined)) {
    const probe = await tlsProbe(t.port, { ca: pki.root.certPem })
    if (probe.response !== undefined) throw new Error(`${t.name} answered a client without a certificate`)
  }
}

type Scenario = [name: string, run: (t: Target, o: LoadOptions) => Promise<Sample>, concurrency: number]

function loadOptions (concurrency: number, token: string): LoadOptions {
  return {
    concurrency,
    warmupMs: num('warmup') * 1000,
    durationMs: num('duration') * 1000,
    maxRequests: 5_000_000,
    path: NEXT_PATH,
    headers: { authorization: `Bearer ${token}` },
    aborted
  }
}

async function measure (targets: Target[], token: string): Promise<Row[]> {
  const scenarios: Scenario[] = [
    [`keep-alive, ${num('connections')} conns`, keepAlive, num('connections')],
    [`new connection per request, ${num('handshake-concurrency')} at a time`, newConnections, num('handshake-concurrency')]
  ]
  const rows: Row[] = scenarios.flatMap(([scenario]) =>
    targets.map((t) => ({ target: t.name, scenario, rounds: [] as Sample[] })))
  const rounds = num('rounds')
  for (let r = 0; r < rounds && !aborted(); r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target)
    for (const [scenario, run, concurrency] of scenarios) {
      for (const t of order) {
        if (aborted()) break
        const sample = await withCpu(run, t, loadOptions(concurrency, token))
        if (aborted()) break // cut short: not a measurement
        rows.find((x) => x.target === t.name && x.scenario === scenario)?.rounds.push(sample)
        const err = sample.errors > 0 ? `, ${sample.errors} errors (${sample.firstError ?? ''})` : ''
        log(`round ${r + 1}/${rounds}  ${t.name.padEnd(15)} ${scenario.padEnd(42)} ${sample.rps.toFixed(0).padStart(6)} req/s  p50 ${sample.p50.toFixed(2)} ms  p99 ${sample.p99.toFixed(2)} ms  CPU/req server ${(sample.serverCpuUs ?? NaN).toFixed(0)} µs client ${(sample.clientCpuUs ?? NaN).toFixed(0)} µs${err}`)
      }
    }
  }
  return rows
}

async function startTargets (
  dir: string, pki: TestPki, children: Child[], notes: string[]
): Promise<{ targets: Target[], gatewayPort: number, haproxy: string }> {
  const sim = await startSimulatorProcess(dir)
  children.push(sim.child)
  const profile = args['gateway-cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args['gateway-cpu-prof'])]
  const files = { serverCert: pki.server.chainPath, serverKey: pki.server.keyPath, tenantCa: pki.trust.path }
  const gw = await startGatewayProcess(dir, sim.url, files, DEFAULT_USER, profile)
  children.push(gw.child)
  const simPort = Number(new URL(sim.url).port)
  const targets: Target[] = [{ name: DIRECT, url: sim.url, port: simPort, pid: sim.child.proc.pid }]
  const version = ensureHaproxy(log)
  if (version !== undefined) {
    const threads = num('haproxy-threads')
    const hp = await startHaproxy({
      dir,
      certAndKeyPem: pki.server.chainPem + pki.server.keyPem,
      tenantCaPath: pki.trust.path,
      backendPort: simPort,
      threads,
      onChild: (c) => children.push(c)
    })
    targets.push(tlsTarget(HAPROXY, hp.port, pki, hp.child.proc.pid))
    notes.push(`HAProxy: nbthread ${threads}, \`mode http\`, \`option httplog\` to stdout (a file), \`verify required\` against the tenant CA bundle`)
  } else {
    notes.push('HAProxy could not be installed: only direct and gateway were measured')
  }
  targets.push(tlsTarget(GATEWAY, gw.port, pki, gw.child.proc.pid))
  notes.push('gateway: defaults (log level info: one access line per request, to a file), status listener off')
  return { targets, gatewayPort: gw.port, haproxy: version ?? 'not available' }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-bench-'))
  const children: Child[] = []
  process.on('SIGINT', onSigint)
  try {
    log(`generating the test PKI in ${dir}`)
    const pki = await makeTestPki(join(dir, 'pki'))
    const notes: string[] = []
    const { targets, gatewayPort, haproxy } = await startTargets(dir, pki, children, notes)
    const token = await deviceToken(pki, gatewayPort)
    await checkRefusesCertless(targets, pki)
    const tls: Record<string, string> = {}
    for (const t of targets) tls[t.name] = await negotiated(t)
    const rows = await measure(targets, token)
    const table = markdownTable(summarize(rows), HAPROXY, DIRECT)
    process.stdout.write(`\n${table}\n\n`)
    const argv = process.argv.slice(2).join(' ')
    const settings = `${num('rounds')} rounds; per measurement ${num('warmup')} s warm-up + ${num('duration')} s measured; keep-alive ${num('connections')} connections; new connections ${num('handshake-concurrency')} at a time; device and server keys ECDSA P-256`
    if (!aborted()) {
      await writeResults(args.out, table, { command: `npm run bench${argv === '' ? '' : ' -- ' + argv}`, settings, haproxy, gatewayFrom: cliCommand().from === 'dist' ? 'dist/ (built)' : 'the sources via tsx', negotiated: tls, notes })
      log(`results written to ${args.out}`)
    }
  } finally {
    process.off('SIGINT', onSigint)
    await Promise.all(children.map(async (c) => await stopChild(c)))
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  log(`benchmark failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
})
