// Unit tests of management API credentials against a tiny local HTTP server standing in for Mender's login endpoint.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { Agent } from 'undici'
import { closeServer, listenOnLoopback, TextSink } from '../support/local-server.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LOGIN_PATH, ManagementAuth, type ManagementAuthOptions } from '../../src/gateway/mender/management-auth.js'
import { createLogger } from '../../src/observe/logger.js'

const USER = 'ops@example.com'
const PASS = 'S3cret-Pa55word'
const STATIC_TOKEN = 'pat-Static-Token-Value'
const T0 = 1_700_000_000_000

const jwtWith = (claims: Record<string, unknown>): string =>
  ['{"alg":"RS256","typ":"JWT"}', JSON.stringify(claims)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.c2ln'

interface Answer { status: number, body: string, type?: string }

/** Mender's login endpoint, scripted per test; records every request it sees. */
class FakeLogin {
  readonly requests: Array<{ url: string, headers: IncomingHttpHeaders }> = []
  answer: (n: number) => Answer = (n) => ({ status: 200, body: jwtWith({ sub: 'u', exp: T0 / 1000 + 3600, n }) })
  gate: Promise<void> = Promise.resolve()
  private readonly server: Server = createServer((req, res) => {
    this.requests.push({ url: req.url ?? '', headers: req.headers })
    const a = this.answer(this.requests.length)
    req.resume()
    req.on('end', () => {
      this.gate.then(() => { res.writeHead(a.status, { 'content-type': a.type ?? 'application/jwt' }).end(a.body) }, () => {})
    })
  })

  async start (): Promise<string> { return await listenOnLoopback(this.server) }

  async stop (): Promise<void> { await closeServer(this.server) }
}

let fake: FakeLogin
let baseUrl: string
let agent: Agent
let sink: TextSink

beforeEach(async () => {
  fake = new FakeLogin()
  baseUrl = await fake.start()
  agent = new Agent()
  sink = new TextSink()
})

afterEach(async () => {
  await agent.close()
  await fake.stop()
})

function auth (o: Partial<ManagementAuthOptions> = {}): ManagementAuth {
  const log = createLogger({ debug_log: false, log_level: 'trace' }, sink)
  return new ManagementAuth({ baseUrl, user: USER, pass: PASS, token: '', dispatcher: agent, log, now: () => T0, ...o })
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

describe('ManagementAuth login', () => {
  it('posts to the login path', async () => {
    await auth().token()
    expect(fake.requests[0]?.url).toBe(LOGIN_PATH)
  })

  it('sends HTTP Basic user:password', async () => {
    await auth().token()
    expect(fake.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`)
  })

  it('returns the JWT Mender answered', async () => {
    fake.answer = () => ({ status: 200, body: jwtWith({ exp: T0 / 1000 + 3600, sub: 'me' }) })
    expect(await auth().token()).toBe(jwtWith({ exp: T0 / 1000 + 3600, sub: 'me' }))
  })

  it('trims a trailing newline from the JWT', async () => {
    fake.answer = () => ({ status: 200, body: `${jwtWith({ exp: T0 / 1000 + 3600 })}\n` })
    expect(await auth().token()).toBe(jwtWith({ exp: T0 / 1000 + 3600 }))
  })

  it('reuses the cached token', async () => {
    const a = auth()
    await a.token()
    await a.token()
    expect(fake.requests).toHaveLength(1)
  })

  it('counts its logins', async () => {
    const a = auth()
    await a.token()
    expect(a.logins).toBe(1)
  })

  it('logs in once for 20 concurrent callers', async () => {
    let open!: () => void
    fake.gate = new Promise((resolve) => { open = resolve })
    const a = auth()
    const all = Promise.all(Array.from({ length: 20 }, async () => await a.token()))
    await new Promise((resolve) => setTimeout(resolve, 20))
    open()
    await all
    expect(fake.requests).toHaveLength(1)
  })

  it('gives all 20 concurrent callers the same token', async () => {
    const a = auth()
    const tokens = await Promise.all(Array.from({ length: 20 }, async () => await a.token()))
    expect(new Set(tokens).size).toBe(1)
  })
})

describe('ManagementAuth refresh', () => {
  it('keeps the token until 80% of its lifetime has passed', async () => {
    let now = T0
    const a = auth({ now: () => now })
    await a.token()
    now = T0 + 2_879_000
    await a.token()
    expect(fake.requests).toHaveLength(1)
  })

  it('logs in again once 80% of the lifetime has passed', async () => {
    let now = T0
    const a = auth({ now: () => now })
    await a.token()
    now = T0 + 2_880_000
    await a.token()
    expect(fake.requests).toHaveLength(2)
  })

  it('returns the fresh token after a refresh', async () => {
    let now = T0
    const a = auth({ now: () => now })
    const first = await a.token()
    now = T0 + 3_000_000
    expect(await a.token()).not.toBe(first)
  })

  it('refreshes a short-lived token one minute before it expires', async () => {
    let now = T0
    fake.answer = (n) => ({ status: 200, body: jwtWith({ exp: T0 / 1000 + 120, n }) })
    const a = auth({ now: () => now })
    await a.token()
    now = T0 + 60_000
    await a.token()
    expect(fake.requests).toHaveLength(2)
  })

  it('keeps a short-lived token until one minute before it expires', async () => {
    let now = T0
    fake.answer = (n) => ({ status: 200, body: jwtWith({ exp: T0 / 1000 + 120, n }) })
    const a = auth({ now: () => now })
    await a.token()
    now = T0 + 59_999
    await a.token()
    expect(fake.requests).toHaveLength(1)
  })

  it('assumes a one-hour lifetime for a token without exp', async () => {
    let now = T0
    fake.answer = (n) => ({ status: 200, body: jwtWith({ n }) })
    const a = auth({ now: () => now })
    await a.token()
    now = T0 + 2_879_000
    await a.token()
    now = T0 + 2_880_000
    await a.token()
    expect(fake.requests).toHaveLength(2)
  })

  it('logs in again after the token was invalidated', async () => {
    const a = auth()
    a.invalidate(await a.token())
    await a.token()
    expect(fake.requests).toHaveLength(2)
  })

  it('ignores invalidation of a token it no longer holds', async () => {
    const a = auth()
    await a.token()
    a.invalidate('some-older-token')
    await a.token()
    expect(fake.requests).toHaveLength(1)
  })
})

describe('ManagementAuth static token', () => {
  it('returns the personal access token', async () => {
    expect(await auth({ token: STATIC_TOKEN, user: '', pass: '' }).token()).toBe(STATIC_TOKEN)
  })

  it('never logs in', async () => {
    const a = auth({ token: STATIC_TOKEN, user: '', pass: '' })
    await Promise.all([a.token(), a.token(), a.token()])
    expect(fake.requests).toHaveLength(0)
  })

  it('says it uses a static token', () => {
    expect(auth({ token: STATIC_TOKEN }).usesStaticToken).toBe(true)
  })

  it('says it logs in when no token is set', () => {
    expect(auth().usesStaticToken).toBe(false)
  })
})

describe('ManagementAuth failures', () => {
  it('maps login 401 to MTLS_ERR_MGMT_LOGIN_FAILED', async () => {
    fake.answer = () => ({ status: 401, body: '{"error":"unauthorized"}' })
    expect(await codeOf(auth().token())).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })

  it('refuses a 200 login answer without a token (MTLS_ERR_MGMT_LOGIN_FAILED) and caches nothing', async () => {
    fake.answer = () => ({ status: 200, body: '' })
    const a = auth()
    expect(await codeOf(a.token())).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
    expect(await codeOf(a.token())).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
    expect(fake.requests.length).toBe(2)
  })

  it('refuses a 200 text/html answer (MTLS_ERR_MGMT_LOGIN_FAILED, upstream 200), caches nothing, logs no body', async () => {
    const html = '<!doctype html><html><body>Sign in to the captive portal SECRET-PAGE-MARKER</body></html>'
    fake.answer = () => ({ status: 200, body: html, type: 'text/html; charset=utf-8' })
    const a = auth()
    await expect(a.token()).rejects.toMatchObject({ code: 'MTLS_ERR_MGMT_LOGIN_FAILED', upstreamStatus: 200 })
    expect(a.lastError?.code).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
    expect(await codeOf(a.token())).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
    expect(fake.requests.length).toBe(2)
    expect(sink.text).toContain('"code":"MTLS_ERR_MGMT_LOGIN_FAILED"')
    expect(sink.text).not.toContain('SECRET-PAGE-MARKER')
    expect(sink.text).not.toContain('<html>')
  })

  const part = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
  it.each([
    ['three parts that are not base64url JSON', 'a.b.c'],
    ['two parts', `${part({ alg: 'RS256' })}.${part({ exp: 1 })}`],
    ['four parts', `${part({ alg: 'RS256' })}.${part({ exp: 1 })}.c2ln.c2ln`],
    ['a header that is not JSON', `${part('not json')}.${part({ exp: T0 / 1000 + 3600 })}.c2ln`],
    ['a header that is a JSON array', `${part([1])}.${part({ exp: T0 / 1000 + 3600 })}.c2ln`],
    ['a payload that is a JSON string', `${part({ alg: 'RS256' })}.${part('"claims"')}.c2ln`],
    ['an exp that is not a number', `${part({ alg: 'RS256' })}.${part({ exp: '2030-01-01' })}.c2ln`],
    ['an empty signature', `${part({ alg: 'RS256' })}.${part({ exp: T0 / 1000 + 3600 })}.`],
    ['a signature that is not base64url', `${part({ alg: 'RS256' })}.${part({ exp: T0 / 1000 + 3600 })}.c2l+bg==`],
    ['a JSON error body', '{"error":"unauthorized"}']
  ])('refuses a 200 answer with %s as its token (MTLS_ERR_MGMT_LOGIN_FAILED)', async (_name, body) => {
    fake.answer = () => ({ status: 200, body })
    await expect(auth().token()).rejects.toMatchObject({ code: 'MTLS_ERR_MGMT_LOGIN_FAILED', upstreamStatus: 200 })
    expect(sink.text).not.toContain(body)
  })

  it('maps login 403 to MTLS_ERR_MGMT_LOGIN_FAILED', async () => {
    fake.answer = () => ({ status: 403, body: '{"error":"forbidden"}' })
    expect(await codeOf(auth().token())).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })

  it('maps login 500 to MTLS_ERR_MGMT_UNAVAILABLE', async () => {
    fake.answer = () => ({ status: 500, body: '{"error":"internal error"}' })
    expect(await codeOf(auth().token())).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })

  it('maps login 503 to MTLS_ERR_MGMT_UNAVAILABLE', async () => {
    fake.answer = () => ({ status: 503, body: '' })
    expect(await codeOf(auth().token())).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })

  it('maps an unreachable server to MTLS_ERR_MGMT_UNAVAILABLE', async () => {
    expect(await codeOf(auth({ baseUrl: await closedPortUrl() }).token())).toBe('MTLS_ERR_MGMT_UNAVAILABLE')
  })

  it('attaches the upstream status to a refused login', async () => {
    fake.answer = () => ({ status: 401, body: '' })
    await expect(auth().token()).rejects.toMatchObject({ upstreamStatus: 401 })
  })

  it('remembers the last error', async () => {
    fake.answer = () => ({ status: 401, body: '' })
    const a = auth()
    await a.token().catch(() => undefined)
    expect(a.lastError?.code).toBe('MTLS_ERR_MGMT_LOGIN_FAILED')
  })

  it('clears the last error after a successful login', async () => {
    let fail = true
    fake.answer = (n) => fail ? { status: 500, body: '' } : { status: 200, body: jwtWith({ exp: T0 / 1000 + 3600, n }) }
    const a = auth()
    await a.token().catch(() => undefined)
    fail = false
    await a.token()
    expect(a.lastError).toBeUndefined()
  })

  it('does not cache a failed login', async () => {
    fake.answer = () => ({ status: 500, body: '' })
    const a = auth()
    await a.token().catch(() => undefined)
    await a.token().catch(() => undefined)
    expect(fake.requests).toHaveLength(2)
  })

  it('fails all 20 concurrent callers with one login attempt', async () => {
    fake.answer = () => ({ status: 401, body: '' })
    const a = auth()
    const results = await Promise.allSettled(Array.from({ length: 20 }, async () => await a.token()))
    expect([fake.requests.length, results.every((r) => r.status === 'rejected')]).toEqual([1, true])
  })
})

describe('ManagementAuth logging', () => {
  it('logs a successful login', async () => {
    await auth().token()
    expect(sink.text).toContain('"event":"mgmt_login"')
  })

  it('logs the code of a failed login', async () => {
    fake.answer = () => ({ status: 401, body: '' })
    await auth().token().catch(() => undefined)
    expect(sink.text).toContain('"code":"MTLS_ERR_MGMT_LOGIN_FAILED"')
  })

  it('never writes the password, the Basic header or the JWT to the log', async () => {
    let n = 0
    fake.answer = () => ++n === 1 ? { status: 401, body: '' } : { status: 200, body: jwtWith({ exp: T0 / 1000 + 3600 }) }
    const a = auth()
    await a.token().catch(() => undefined)
    const jwt = await a.token()
    const basic = Buffer.from(`${USER}:${PASS}`).toString('base64')
    expect([PASS, basic, jwt].filter((secret) => sink.text.includes(secret))).toEqual([])
  })

  it('never writes the static token to the log', async () => {
    const a = auth({ token: STATIC_TOKEN, baseUrl: await closedPortUrl() })
    await a.token()
    expect(sink.text.includes(STATIC_TOKEN)).toBe(false)
  })
})
