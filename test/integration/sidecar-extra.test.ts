// extra/sidecar as an operator uses it: the openssl Makefile makes the CA and the two certificates, the two YAML
// files are valid configurations, and the pair they describe — with those very certificates — carries an HTTP
// request to the service (ports moved to free ones, paths made absolute; everything else as written).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, get, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { REPO_ROOT } from '../support/process.js'
import { startTunnels, type TunnelsHandle } from '../support/tunnel.js'
import { missingTools, runTool } from '../support/tools.js'

const SIDECAR = join(REPO_ROOT, 'extra', 'sidecar')
const FILES = ['Makefile', 'server-proxy.yaml', 'client-proxy.yaml']

let dir: string
let app: Server
let appPort: number
const started: TunnelsHandle[] = []

beforeAll(async () => {
  expect(missingTools(['make', 'openssl'])).toEqual([])
  dir = await mkdtemp(join(tmpdir(), 'sidecar-'))
  for (const f of FILES) await copyFile(join(SIDECAR, f), join(dir, f))
  const made = await runTool('make', ['-C', dir], 60_000)
  expect(made.code, made.stderr).toBe(0)
  app = createServer((req, res) => res.end(`app saw ${req.url ?? ''}`))
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  appPort = (app.address() as { port: number }).port
})

afterAll(async () => {
  for (const t of started) await t.close()
  await new Promise((resolve) => app?.close(resolve))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** The single tunnel of a YAML file, its certificate paths under the test folder and `changes` applied. */
async function tunnelOf (file: string, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
  const doc = parse(await readFile(join(dir, file), 'utf8')) as { tunnels: Array<Record<string, unknown>> }
  expect(doc.tunnels).toHaveLength(1)
  const t = { ...doc.tunnels[0] }
  for (const k of ['cert', 'key', 'ca']) t[k] = join(dir, String(t[k]))
  return { ...t, ...changes }
}

describe('extra/sidecar', () => {
  it('both YAML files are valid configurations of one tunnel each', () => {
    for (const [file, mode] of [['server-proxy.yaml', 'reverse'], ['client-proxy.yaml', 'forward']]) {
      const config = loadConfig({ file: join(dir, file ?? ''), env: {} })
      expect(config.tunnels.map((t) => t.mode)).toEqual([mode])
    }
  })

  it('the pair, with the Makefile\'s certificates, carries a request to the service', async () => {
    const server = await startTunnels([await tunnelOf('server-proxy.yaml', { listen: '127.0.0.1:0', connect: `127.0.0.1:${appPort}` })])
    started.push(server)
    const client = await startTunnels([await tunnelOf('client-proxy.yaml', {
      listen: '127.0.0.1:0', connect: server.address('server-proxy')
    })])
    started.push(client)
    const answer = await new Promise<string>((resolve, reject) => {
      get(`http://${client.address('client-proxy')}/through-the-pair`, { agent: false }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        res.on('end', () => resolve(`${res.statusCode ?? 0} ${body}`))
      }).on('error', reject)
    })
    expect(answer).toBe('200 app saw /through-the-pair')
  })
})
