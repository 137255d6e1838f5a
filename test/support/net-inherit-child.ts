// Child process for the socket-activation tests: listens on the inherited address given as argv[2] (LISTEN_* taken
// from its environment, like a service started by systemd), answers every connection with its pid, and prints
// one JSON line: {"listening": <formatted local address>} or {"error": <code>, "message": ...}.
import net from 'node:net'
import { formatAddress, parseAddress } from '../../src/net/address.js'
import { listen } from '../../src/net/listen.js'

const parsed = parseAddress(process.argv[2])
if (!parsed.ok) throw new Error(parsed.problem)
const server = net.createServer((s) => { s.end(`pid ${process.pid}`) })
listen(server, parsed.value, { env: process.env }).then((l) => {
  console.log(JSON.stringify({ listening: formatAddress(l.local), env: process.env.LISTEN_FDS ?? null }))
  process.once('SIGTERM', () => { l.close().then(() => process.exit(0), () => process.exit(1)) })
}, (err: Error & { code?: string }) => {
  console.log(JSON.stringify({ error: err.code, message: err.message }))
  process.exit(3)
})
