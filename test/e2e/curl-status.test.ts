// curl against the gateway's mTLS port: /status answers with a client certificate, and without one the TLS
// handshake is refused (logged with the no-certificate reason code).
import { execFile } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startStack, type Stack } from './support/stack.js'

interface CurlResult { code: number, stdout: string, stderr: string }

async function curl (args: string[]): Promise<CurlResult> {
  return await new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '10', ...args], (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

describe('curl and the mTLS status route', () => {
  let stack: Stack
  let withCert: CurlResult
  let withoutCert: CurlResult

  beforeAll(async () => {
    stack = await startStack()
    const { pki, gw } = stack
    const url = `${gw.url}/status`
    withCert = await curl(['--cert', pki.devices.ec.chainPath, '--key', pki.devices.ec.keyPath, '--cacert', pki.root.certPath, url])
    withoutCert = await curl(['--cacert', pki.root.certPath, url])
  })

  afterAll(async () => { await stack?.close() })

  it('answers {"status":"ok"} to a client presenting a device certificate', () => {
    expect(withCert.code, withCert.stderr).toBe(0)
    expect(JSON.parse(withCert.stdout)).toEqual({ status: 'ok' })
  })

  it('fails the TLS exchange of a client without a certificate', () => {
    expect(withoutCert.code).not.toBe(0)
    expect(withoutCert.stdout).toBe('')
  })

  it('logs the no-certificate reason code for that client', async () => {
    await eventually(() => stack.gw.withCode('MTLS_ERR_TLS_NO_CERT')[0])
  })
})
