// 1 vs all workers: the gateway started twice (MTLS_WORKERS=1, then the given count, `auto` by default), each
// driven to saturation by wrk (keep-alive GET, 2 threads, 32 connections); req/s, the process tree's CPU per request
// and the cores it kept busy. A gateway that does not know MTLS_WORKERS simply runs one worker both times.
import { cpus } from 'node:os'
import { DEFAULT_USER } from '../src/tools/simulator/context.js'
import type { TestPki } from '../test/support/pki.js'
import { sampleTree } from './cpu.js'
import { freePort, GATEWAY_BENCH_ENV, startGatewayProcess, stopChild, type Child } from './procs.js'
import { median, type WorkersResult } from './results.js'
import { NEXT_PATH, type ScenarioContext } from './scenarios.js'
import { runWrk, wrkScript } from './wrk.js'
import { join } from 'node:path'

export interface WorkersOptions {
  dir: string
  pki: TestPki
  simUrl: string
  ctx: ScenarioContext
  workers: string
  seconds: number
  warmup: number
  rounds: number
  log: (line: string) => void
}

interface Run { rps: number, serverCpuUs: number, cpuCores: number }

async function saturate (pid: number, port: number, o: WorkersOptions): Promise<Run> {
  const script = wrkScript([{ method: 'GET', path: NEXT_PATH, headers: { Authorization: `Bearer ${o.ctx.token}` } }])
  const run = async (seconds: number): Promise<Awaited<ReturnType<typeof runWrk>>> => await runWrk({
    url: `https://localhost:${port}/`, script, connections: 32, threads: 2, seconds, shim: o.ctx.shim, dir: o.dir, tls: o.ctx.device
  })
  // a fresh gateway: the warm-up also takes the handshakes of the first connections out of the window
  await run(o.warmup)
  const s0 = sampleTree(pid).cpuMs
  const r = await run(o.seconds)
  const cpuMs = sampleTree(pid).cpuMs - s0
  const serverCpuUs = cpuMs * 1000 / Math.max(1, r.requests)
  return { rps: r.requests / r.seconds, serverCpuUs, cpuCores: cpuMs / (r.seconds * 1000) }
}

export async function measureWorkers (o: WorkersOptions): Promise<WorkersResult> {
  const runs: Record<'one' | 'all', Run[]> = { one: [], all: [] }
  const files = { serverCert: o.pki.server.chainPath, serverKey: o.pki.server.keyPath, tenantCa: join(o.dir, 'trust.pem') }
  for (let round = 0; round < o.rounds; round++) {
    for (const which of round % 2 === 0 ? ['one', 'all'] as const : ['all', 'one'] as const) {
      const count = which === 'one' ? '1' : o.workers
      const port = await freePort()
      const gw: { child: Child } = await startGatewayProcess(o.dir, o.simUrl, files, DEFAULT_USER, {
        name: `gateway-workers-${count}-round${round + 1}`,
        env: { ...GATEWAY_BENCH_ENV, MTLS_WORKERS: count, MTLS_LISTEN: `127.0.0.1:${port}` }
      })
      try {
        const r = await saturate(gw.child.proc.pid ?? 0, port, o)
        runs[which].push(r)
        o.log(`workers ${count.padEnd(5)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.serverCpuUs.toFixed(0)} µs/request  ` +
          `${r.cpuCores.toFixed(2)} cores busy`)
      } finally {
        await stopChild(gw.child)
      }
    }
  }
  const med = (xs: Run[]): Run => ({
    rps: median(xs.map((x) => x.rps)),
    serverCpuUs: median(xs.map((x) => x.serverCpuUs)),
    cpuCores: median(xs.map((x) => x.cpuCores))
  })
  return { cores: cpus().length, one: med(runs.one), all: { ...med(runs.all), workers: o.workers } }
}
