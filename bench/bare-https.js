// The stack's limit: a bare Node `https` server with the gateway's TLS options (the same certificate chain and key,
// the tenant CA bundle, client certificate required, TLS 1.2 minimum, random session-ticket keys) that answers
// every request with a small fixed body and writes one access-log line per request to a file, like the proxies.
// Plain JavaScript so that nothing but Node runs in it. Env: BARE_CERT, BARE_KEY, BARE_CA (paths), BARE_LOG.
// Prints `listening <port>` once it accepts connections on 127.0.0.1.
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { createServer } from 'node:https'

const env = (name) => {
  const v = process.env[name]
  if (v === undefined || v === '') throw new Error(`${name} is required`)
  return v
}
const log = createWriteStream(env('BARE_LOG'), { flags: 'a' })
const BODY = Buffer.from('{"ok":true}\n')

const server = createServer({
  cert: readFileSync(env('BARE_CERT'), 'utf8'),
  key: readFileSync(env('BARE_KEY'), 'utf8'),
  ca: readFileSync(env('BARE_CA'), 'utf8'),
  minVersion: 'TLSv1.2',
  ticketKeys: randomBytes(48),
  requestCert: true,
  rejectUnauthorized: true,
  // long enough for the idle-connection scenario (the gateway and the proxies get the same in the benchmark)
  headersTimeout: 3_600_000,
  requestTimeout: 3_600_000,
  keepAliveTimeout: 65_000
}, (req, res) => {
  const began = process.hrtime.bigint()
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length })
    res.end(BODY)
    const ms = Number(process.hrtime.bigint() - began) / 1e6
    log.write(`{"time":${Date.now()},"method":"${req.method}","url":${JSON.stringify(req.url)},"status":200,"ms":${ms.toFixed(3)}}\n`)
  })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
const stop = () => { server.close(); server.closeAllConnections(); log.end() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
