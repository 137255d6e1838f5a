// The idle-connection client, a process of its own: holds TLS connections open to one server and does nothing on
// them. Commands on stdin, one per line: `open <total>` (full handshakes, 64 at a time, until <total> are open;
// answers `open <n> <errors>`), `close` (ends every connection; answers `closed`). Env: IDLE_PORT, IDLE_CERT,
// IDLE_KEY, IDLE_CA (paths).
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { connect, createSecureContext, type TLSSocket } from 'node:tls'

const env = (name: string): string => {
  const v = process.env[name]
  if (v === undefined || v === '') throw new Error(`${name} is required`)
  return v
}
const port = Number(env('IDLE_PORT'))
const context = createSecureContext({ cert: readFileSync(env('IDLE_CERT')), key: readFileSync(env('IDLE_KEY')), ca: readFileSync(env('IDLE_CA')) })
const open = new Set<TLSSocket>()
let errors = 0

async function one (): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: context })
    s.once('secureConnect', () => { open.add(s); resolve() })
    s.once('error', () => { errors++; resolve() })
    s.once('close', () => open.delete(s))
    s.on('data', () => {})
  })
}

async function openTo (total: number): Promise<void> {
  const workers = Array.from({ length: 64 }, async () => {
    while (open.size < total && errors < 1000) await one()
  })
  await Promise.all(workers)
}

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ')
  if (cmd === 'open') {
    openTo(Number(arg)).then(() => process.stdout.write(`open ${open.size} ${errors}\n`), () => {})
  } else if (cmd === 'close') {
    for (const s of open) s.destroy()
    open.clear()
    process.stdout.write('closed\n')
  }
})
rl.on('close', () => { for (const s of open) s.destroy() })
