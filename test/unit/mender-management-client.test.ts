// Unit tests of the preauthorization call against a tiny local HTTP server standing in for Mender's login and
// devauth endpoints: outcome mapping, one re-login on 401, request shape, and secrets kept out of the log.
import { CallGate } from '../../src/gateway/mender/call-gate.js'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { Agent } from 'undici'
import { closeServer, listenOnLoopback, TextSink } from '../support/local-server.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LOGIN_PATH, ManagementAuth } from '../../src/gateway/mender/management-auth.js'
import { ManagementClient, PREAUTH_PATH, type PreauthRequest } from '../../src/gateway/mender/management-client.js'
import { createLogger } from '../../src/observe/logger.js'

const USER = 'ops@example.com'
const PASS = 'S3cret-Pa55word'
const STATIC_TOKEN = 'pat-Static-Token-Value'
const EXP = Math.floor(Date.now() / 1000) + 3600
const PEM = '-----BEGIN PUBLIC KEY-----\nMFkw…\n-----END PUBLIC KEY-----\n'
const REQ: PreauthRequest = { identity: { mac: '02:00:00:00:00:01' }, pubkeyPem: PEM, force: false }

const jwtNo = (n: number): string =>
  [{ alg: 'RS256' }, { sub: 'u', exp: EXP, n }].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + '.c2ln'

interface Seen { url: string, headers: IncomingHttpHeaders, body: string }
interface Answer { status: number, body?: string }

/** Mender's login and preauth endpoints: logins hand out jwtNo(1), jwtNo(2)…; preauth answers are scripted. */
class FakeMender {
  readonly logins: Seen[] = []
  readonly preauths: Seen[] = []
  preauth: (seen: Seen, n: number) => Answer = () => ({ status: 201 })
  private readonly server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const seen = { url: req.url ?? '', headers: req.headers, body }
      let a: Answer = { status: 404, body: '{"error":"not found"}' }
      if (req.url === LOGIN_PATH) {
        this.logins.push(seen)
        a = { status: 200, body: jwtNo(this.logins.length) }
      } else if (req.url === PREAUTH_PATH) {
        this.preauths.push(seen)
        a = this.preauth(seen, this.preauths.length)
      }
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body ?? '')
    })
  })

  async start (): Promise<string> { return await listenOnLoopback(this.server) }

  async stop (): Promise<void> { await closeServer(this.server) }
}

let fake: FakeMender
let baseUrl: string
let agent: Agent
let sink: TextSink

beforeEach(async () => {
  fake = new FakeMender()
  baseUrl = await fake.start()
  agent = new Agent()
  sink = new TextSink()
})

afterEach(async () => {
  await agent.close()
  await fake.stop()
})

function client (o: { token?: string, url?: string } = {}): ManagementClient {
  const log = createLogger({ debug_log: false, log_level: 'trace' }, sink)
  const url = o.url ?? baseUrl
  const auth = new ManagementAuth({ baseUrl: url, user: USER, pass: PASS, token: o.token ?? '', dispatcher: agent, log })
  const gate = new CallGate({ concurrency: 16, queueSize: 100, queueTimeoutMs: 5000 })
  return new ManagementClient({ baseUrl: url, auth, dispatcher: agent, log, gate })
}

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code: string }).code
  }
  return 'no error'
}

async function closedPortUrl (): Promise<string> {
  const s = createServer()
  const url = await listenOnLoopback(s)
  await closeServer(s)
  return url
}

describe('ManagementClient.preauthorize outcomes', () => {
  it('maps 201 to `created`', async () => {
    expect(await client().preauthorize(REQ)).toBe('created')
  })

  it('maps 409 to `conflict`', async () => {
    fake.preauth = () => ({ status: 409, body: '{"id":"d1","status":"pending"}' })
    expect(await client().preauthorize(REQ)).toBe('conflict')
  })

  it('maps 400 to MTLS_ERR_PREAUTH_FAILED', async () => {
    fake.preauth = () => ({ status: 400, body: '{"error":"failed to decode preauth request"}' })
    expect(await codeOf(client().preauthorize(REQ))).toBe('MTLS_ERR_PREAUTH_FAILED')
  })

  it('attaches the upstream status to a refusal', async () => {
    fake.preauth = () => ({ status: 400, body: '{"error":"bad"}' })
    await expect(client().preauthorize(REQ)).rejects.toMatchObject({ upstreamStatus: 400 })
  })

  it('maps 500 to MTLS_ERR_MGMT_UNAVAILABLE', async () => {
    fake.preauth = () => ({ status: 500, body: '{"error":"internal error"}' })
    expect(await codeOf(client().preauthorize(REQ))).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })

  it('maps 403 to MTLS_ERR_MGMT_LOGIN_FAILED', async () => {
    fake.preauth = () => ({ status: 403, body: '{"error":"forbidden"}' })
    expect(await codeOf(client().preauthorize(REQ))).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })

  it('maps an unreachable server to MTLS_ERR_MGMT_UNAVAILABLE', async () => {
    const url = await closedPortUrl()
    expect(await codeOf(client({ token: STATIC_TOKEN, url }).preauthorize(REQ))).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })

  it('propagates a failed login as MTLS_ERR_MGMT_UNAVAILABLE when the server is unreachable', async () => {
    expect(await codeOf(client({ url: await closedPortUrl() }).preauthorize(REQ))).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })
})

describe('ManagementClient.preauthorize request', () => {
  it('posts to the devauth v2 devices path', async () => {
    await client().preauthorize(REQ)
    expect(fake.preauths[0]?.url).toBe(PREAUTH_PATH)
  })

  it('sends identity_data as an object and the PEM as pubkey', async () => {
    await client().preauthorize(REQ)
    expect(JSON.parse(fake.preauths[0]?.body ?? '')).toEqual({ identity_data: REQ.identity, pubkey: PEM })
  })

  it('adds force: true when asked', async () => {
    await client().preauthorize({ ...REQ, force: true })
    expect(JSON.parse(fake.preauths[0]?.body ?? '').force).toBe(true)
  })

  it('sends JSON', async () => {
    await client().preauthorize(REQ)
    expect(fake.preauths[0]?.headers['content-type']).toBe('application/json')
  })

  it('authenticates with the login JWT as Bearer', async () => {
    await client().preauthorize(REQ)
    expect(fake.preauths[0]?.headers.authorization).toBe(`Bearer ${jwtNo(1)}`)
  })

  it('authenticates with the static token as Bearer', async () => {
    await client({ token: STATIC_TOKEN }).preauthorize(REQ)
    expect(fake.preauths[0]?.headers.authorization).toBe(`Bearer ${STATIC_TOKEN}`)
  })

  it('reuses one login for several preauthorizations', async () => {
    const c = client()
    await c.preauthorize(REQ)
    await c.preauthorize(REQ)
    expect(fake.logins).toHaveLength(1)
  })

  it('counts its preauth calls', async () => {
    const c = client()
    await c.preauthorize(REQ)
    expect(c.preauthCalls).toBe(1)
  })
})

describe('ManagementClient.preauthorize on 401', () => {
  const expireFirstToken = (seen: Seen): Answer =>
    seen.headers.authorization === `Bearer ${jwtNo(1)}` ? { status: 401, body: '{"error":"unauthorized"}' } : { status: 201 }

  it('logs in again once and succeeds', async () => {
    fake.preauth = expireFirstToken
    expect(await client().preauthorize(REQ)).toBe('created')
  })

  it('makes exactly one extra login', async () => {
    fake.preauth = expireFirstToken
    await client().preauthorize(REQ)
    expect(fake.logins).toHaveLength(2)
  })

  it('retries with the fresh token', async () => {
    fake.preauth = expireFirstToken
    await client().preauthorize(REQ)
    expect(fake.preauths.map((p) => p.headers.authorization)).toEqual([`Bearer ${jwtNo(1)}`, `Bearer ${jwtNo(2)}`])
  })

  it('gives up after the retry is refused too', async () => {
    fake.preauth = () => ({ status: 401, body: '{"error":"unauthorized"}' })
    expect(await codeOf(client().preauthorize(REQ))).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })

  it('retries only once', async () => {
    fake.preauth = () => ({ status: 401 })
    await client().preauthorize(REQ).catch(() => undefined)
    expect(fake.preauths).toHaveLength(2)
  })

  it('does not retry with a static token', async () => {
    fake.preauth = () => ({ status: 401 })
    await client({ token: STATIC_TOKEN }).preauthorize(REQ).catch(() => undefined)
    expect([fake.preauths.length, fake.logins.length]).toEqual([1, 0])
  })

  it('maps a refused static token to MTLS_ERR_MGMT_LOGIN_FAILED', async () => {
    fake.preauth = () => ({ status: 401 })
    expect(await codeOf(client({ token: STATIC_TOKEN }).preauthorize(REQ))).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })
})

describe('ManagementClient logging', () => {
  it('logs a refusal with its upstream status', async () => {
    fake.preauth = () => ({ status: 400, body: '{"error":"bad"}' })
    await client().preauthorize(REQ).catch(() => undefined)
    expect(sink.text).toContain('"upstreamStatus":400')
  })

  it('never writes the password or a JWT to the log', async () => {
    fake.preauth = (_seen, n) => n === 1 ? { status: 401 } : { status: 400, body: '{"error":"bad"}' }
    await client().preauthorize(REQ).catch(() => undefined)
    const basic = Buffer.from(`${USER}:${PASS}`).toString('base64')
    expect([PASS, basic, jwtNo(1), jwtNo(2)].filter((s) => sink.text.includes(s))).toEqual([])
  })

  it('never writes the static token to the log', async () => {
    fake.preauth = () => ({ status: 500 })
    await client({ token: STATIC_TOKEN }).preauthorize(REQ).catch(() => undefined)
    expect([sink.text.length > 0, sink.text.includes(STATIC_TOKEN)]).toEqual([true, false])
  })
})
