// `mtls-ambassador demo sidecar`: the sidecar pair in one process. A small HTTP server on :3000, a server proxy (a
// reverse tunnel: TLS 1.3 with a required client certificate on :8081 → :3000) and a client proxy (a forward tunnel:
// plain :8080 → :8081 with the client certificate), a PKI generated for the run; one request through the pair, its
// answer and the proxies' log lines printed, then the curl commands to try. Runs until SIGTERM/SIGINT, or --once.
import { createServer, get, type Server } from 'node:http'
import { parseFlags, portFlag } from '../../lib/cli-args.js'
import { hostPort, listenError } from '../../net/listen-error.js'
import {
  DEMO_CLIENT as CLIENT, DemoLog, demoRun, forwardEntry, reverseEntry, startDemoTunnels, tunnelAddress, untilStopped,
  type DemoRun
} from './common.js'

export const SIDECAR_DEMO_USAGE = `usage: mtls-ambassador demo sidecar [options]

The sidecar pair on one machine: client → :8080 client proxy (forward tunnel) → TLS 1.3 mTLS → :8081 server proxy
(reverse tunnel, admits one client certificate) → :3000 a small HTTP server; certificates are generated for the run.
Sends one request through the pair and prints the answer, the proxies' log lines and the curl commands to try, then
runs until SIGTERM/SIGINT. Everything listens on 127.0.0.1.

options:
  --client-port N   the client proxy's plain HTTP port (default 8080; 0 = any free port)
  --server-port N   the server proxy's mTLS port (default 8081; 0 = any free port)
  --app-port N      the HTTP server's port (default 3000; 0 = any free port)
  --once            exit after the request (0 when it was answered)
  -h, --help        this help`

const HOST = '127.0.0.1'
const s = { type: 'string' } as const

/** The service behind the pair: answers every request with a line naming it. */
async function startApp (port: number): Promise<{ server: Server, port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.end(`hello from the app behind the sidecar pair: ${req.method ?? 'GET'} ${req.url ?? '/'}\n`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, resolve)
  }).catch((err: unknown) => { throw listenError(err, { host: HOST, port }) })
  return { server, port: (server.address() as { port: number }).port }
}

/** GET `url` on a fresh connection (closed after the answer): status and body, or the error. */
async function request (url: string): Promise<{ ok: boolean, text: string }> {
  return await new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 20_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ ok: res.statusCode === 200, text: `HTTP ${res.statusCode ?? 0}\n${body}` }))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (err) => resolve({ ok: false, text: `request failed: ${err.message}\n` }))
  })
}

function banner (run: DemoRun, client: string, server: string, appPort: number): string {
  const dev = run.pki.devices[CLIENT]
  const serverPort = server.slice(server.lastIndexOf(':') + 1)
  return `
mtls-ambassador demo sidecar
  certificates  ${run.pki.dir} (generated for this run)
  app           http://${HOST}:${appPort}
  server proxy  reverse tunnel, TLS 1.3 mTLS on ${server} → ${HOST}:${appPort} (admits CN=${CLIENT})
  client proxy  forward tunnel on ${client} → ${server}

Try:
  curl http://${client}/hello                        # through the pair
  curl --cacert ${run.pki.server.ca} --cert ${dev.cert} --key ${dev.key} https://localhost:${serverPort}/direct
  curl --cacert ${run.pki.server.ca} https://localhost:${serverPort}/   # no client certificate: refused

`
}

/** Runs the demo; returns the exit code (with --once: 0 when the request through the pair was answered). */
export async function runSidecarDemo (argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const options = { 'client-port': s, 'server-port': s, 'app-port': s, once: { type: 'boolean' } } as const
  const { values, help } = parseFlags(argv, options, { command: 'demo sidecar' })
  if (help) {
    out.write(SIDECAR_DEMO_USAGE + '\n')
    return 0
  }
  const ports = [portFlag('demo sidecar', values, 'client-port', 8080), portFlag('demo sidecar', values, 'server-port', 8081),
    portFlag('demo sidecar', values, 'app-port', 3000)] as const
  const run = await demoRun('mtls-sidecar-demo-')
  const stops: Array<() => Promise<void>> = [run.cleanup]
  try {
    const app = await startApp(ports[2])
    stops.unshift(async () => { await new Promise((resolve) => app.server.close(resolve)) })
    const log = new DemoLog(out)
    const server = await startDemoTunnels([
      reverseEntry(run, 'server-proxy', hostPort(HOST, ports[1]), hostPort(HOST, app.port))
    ], log)
    stops.unshift(server.stop)
    const serverAddress = tunnelAddress(server, 'server-proxy')
    const client = await startDemoTunnels([forwardEntry(run, 'client-proxy', hostPort(HOST, ports[0]), serverAddress)], log)
    stops.unshift(client.stop)
    const clientAddress = tunnelAddress(client, 'client-proxy')
    out.write(banner(run, clientAddress, serverAddress, app.port))
    const answer = await request(`http://${clientAddress}/hello`)
    out.write(`$ curl http://${clientAddress}/hello   (through client proxy → server proxy → app)\n${answer.text}\n`)
    await log.connectionsLogged('server-proxy', answer.ok ? 1 : 0)
    return await untilStopped(values.once === true, answer.ok, out)
  } finally {
    for (const stop of stops) await stop()
  }
}
