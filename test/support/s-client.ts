// `openssl s_client` as a resuming TLS client: one connection presenting a device certificate, resuming the session
// saved in one file and saving the one it ends with to another, with what it reports (New or Reused, the version).
import { spawn } from 'node:child_process'
import type { TestCert } from './pki.js'

/** A one-shot `GET /status` that closes the connection after the answer (what a resumption check sends). */
export const STATUS_REQUEST = 'GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'

export interface SClientOutcome { session: 'New' | 'Reused' | undefined, version: string | undefined, output: string }

export interface SClientCall {
  port: number
  dev: TestCert
  /** The CA file the server's certificate is checked against. */
  caPath: string
  /** Where the session it ends with is saved. */
  sessOut: string
  /** A saved session to resume. */
  sessIn?: string
  /** Sent once connected; then it reads until the server closes. */
  input: string
  extra?: string[]
}

/** One `openssl s_client` connection to 127.0.0.1:port (killed after 20 s). */
export async function sClient (c: SClientCall): Promise<SClientOutcome> {
  const args = ['s_client', '-connect', `127.0.0.1:${c.port}`, '-cert', c.dev.certPath, '-key', c.dev.keyPath,
    '-CAfile', c.caPath, '-ign_eof', '-sess_out', c.sessOut, ...(c.sessIn === undefined ? [] : ['-sess_in', c.sessIn]),
    ...(c.extra ?? [])]
  return await new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    // kept apart: interleaved chunks of the two streams would split lines
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', (err) => { clearTimeout(timer); reject(err) }) // openssl missing: the test fails
    child.on('close', () => {
      clearTimeout(timer)
      const output = `${stdout}\n${stderr}`
      const m = /^(New|Reused), (TLSv[\d.]+)/m.exec(output)
      resolve({ session: m?.[1] as SClientOutcome['session'], version: m?.[2], output })
    })
    child.stdin.end(c.input)
  })
}
