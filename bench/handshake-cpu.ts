// Gateway CPU per full mTLS handshake and per warm auth request, measured in this process with
// process.cpuUsage() while a separate client process drives the load and the Mender simulator runs in a third
// (neither's CPU is counted).
// Usage: node --import tsx bench/handshake-cpu.ts [handshakes=500] [authRequests=300]
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { Agent } from 'undici'
import { startGateway, TEST_USER } from '../test/support/gateway.js'
import { makeTestPki } from '../test/support/pki.js'
import { authRequest, postAuth } from '../test/support/device.js'

interface Job { port: number, ca: string, cert: string, key: string, handshakes: number, auth: number }

/** Client side: sequential full handshakes (no session reuse), then warm auth requests on one connection. */
async function client (job: Job): Promise<void> {
  const run = async (phase: string, fn: () => Promise<void>): Promise<void> => {
    process.send?.({ start: phase })
    await new Promise((resolve) => process.once('message', resolve))
    await fn()
    process.send?.({ end: phase })
    await new Promise((resolve) => process.once('message', resolve))
  }
  await run('handshake', async () => {
    for (let i = 0; i < job.handshakes; i++) await handshake(job)
  })
  const agent = new Agent({ connect: { ca: job.ca, cert: job.cert, key: job.key, servername: 'localhost' } })
  const req = authRequest(job.key, { mac: '00:11:22:33:44:55' })
  for (let i = 0; i < 20; i++) await postAuth(agent, `https://localhost:${job.port}`, req)
  console.error('warm-up answer', (await postAuth(agent, `https://localhost:${job.port}`, req)).status)
  await run('auth', async () => {
    for (let i = 0; i < job.auth; i++) await postAuth(agent, `https://localhost:${job.port}`, req)
  })
  await agent.close()
  process.exit(0)
}

async function handshake (job: Job): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect({ port: job.port, host: '127.0.0.1', servername: 'localhost', ca: job.ca, cert: job.cert, key: job.key })
    s.once('secureConnect', () => {
      // one byte back means the server ran its guard; a plain GET answers 404 or the like
      s.write('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    })
    s.on('data', () => {})
    s.once('end', () => { s.destroy(); resolve() })
    s.once('error', reject)
  })
}

/** The simulator in its own process; resolves with its URL. */
async function simulator (): Promise<{ url: string, child: ChildProcess }> {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
  const user = `${TEST_USER.email}:${TEST_USER.password}`
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'sim', '--user', user], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      const m = /https?:\/\/\S+/.exec(d.toString())
      if (m !== null) resolve(m[0])
    })
  })
  return { url, child }
}

async function server (handshakes: number, auth: number): Promise<void> {
  const pki = await makeTestPki()
  const sim = await simulator()
  const gw = await startGateway({ pki, backendUrl: sim.url, overrides: { log_level: 'info' } })
  const dev = pki.devices.ec
  const job: Job = { port: gw.port, ca: pki.root.certPem, cert: dev.chainPem, key: dev.keyPem, handshakes, auth }
  const child = fork(fileURLToPath(import.meta.url), ['client', JSON.stringify(job)], { execArgv: ['--import', 'tsx'] })
  let t0 = process.cpuUsage()
  await new Promise<void>((resolve) => {
    child.on('message', (m: { start?: string, end?: string }) => {
      if (m.start !== undefined) t0 = process.cpuUsage()
      if (m.end !== undefined) {
        const d = process.cpuUsage(t0)
        const n = m.end === 'handshake' ? handshakes : auth
        console.log(`${m.end}: ${((d.user + d.system) / n).toFixed(0)} µs CPU each (n=${n})`)
      }
      child.send('go')
    })
    child.on('exit', () => { resolve() })
  })
  await gw.close()
  sim.child.kill()
  await pki.cleanup()
}

if (process.argv[2] === 'client') await client(JSON.parse(process.argv[3] ?? '{}') as Job)
else await server(Number(process.argv[2] ?? 500), Number(process.argv[3] ?? 300))
