// Unit tests of the preauthorizer: decisions, caching with TTL, single flight per (identity, key), failures.
import { describe, expect, it } from 'vitest'
import { Preauthorizer, type PreauthorizerOptions } from '../../src/gateway/device-auth/preauthorizer.js'
import type { PreauthOutcome, PreauthRequest } from '../../src/gateway/mender/management-client.js'

const IDENTITY = { mac: '02:00:00:00:00:01' }
const SPKI = Buffer.from('spki-of-key-one')
const PEM = '-----BEGIN PUBLIC KEY-----\nkey-one\n-----END PUBLIC KEY-----\n'

/** A scripted stand-in for the management client recording every call. */
class FakeClient {
  calls: PreauthRequest[] = []
  constructor (private readonly answer: (req: PreauthRequest) => Promise<PreauthOutcome>) {}
  async preauthorize (req: PreauthRequest): Promise<PreauthOutcome> {
    this.calls.push(req)
    return await this.answer(req)
  }
}

const answers = (first: PreauthOutcome): FakeClient => new FakeClient(async (req) => req.force ? 'created' : first)

function preauthorizer (client: FakeClient, o: Partial<PreauthorizerOptions> = {}): Preauthorizer {
  return new Preauthorizer({ client, force: true, ttlSeconds: 60, maxEntries: 100, ...o })
}

describe('Preauthorizer decisions', () => {
  it('reports `created` when Mender creates the device', async () => {
    expect(await preauthorizer(answers('created')).ensure(IDENTITY, SPKI, PEM)).toBe('created')
  })

  it('sends identity and key without force first', async () => {
    const client = answers('created')
    await preauthorizer(client).ensure(IDENTITY, SPKI, PEM)
    expect(client.calls).toEqual([{ identity: IDENTITY, pubkeyPem: PEM, force: false }])
  })

  it('reports `forced` on a conflict when force is on', async () => {
    expect(await preauthorizer(answers('conflict')).ensure(IDENTITY, SPKI, PEM)).toBe('forced')
  })

  it('repeats the call with force after a conflict', async () => {
    const client = answers('conflict')
    await preauthorizer(client).ensure(IDENTITY, SPKI, PEM)
    expect(client.calls.map((c) => c.force)).toEqual([false, true])
  })

  it('reports `conflict` when force is off', async () => {
    expect(await preauthorizer(answers('conflict'), { force: false }).ensure(IDENTITY, SPKI, PEM)).toBe('conflict')
  })

  it('makes no forced call when force is off', async () => {
    const client = answers('conflict')
    await preauthorizer(client, { force: false }).ensure(IDENTITY, SPKI, PEM)
    expect(client.calls).toHaveLength(1)
  })
})

describe('Preauthorizer cache', () => {
  it('answers a repeat with `cached`', async () => {
    const p = preauthorizer(answers('created'))
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(await p.ensure(IDENTITY, SPKI, PEM)).toBe('cached')
  })

  it('makes no client call for a repeat', async () => {
    const client = answers('created')
    const p = preauthorizer(client)
    await p.ensure(IDENTITY, SPKI, PEM)
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(client.calls).toHaveLength(1)
  })

  it('treats a differently ordered identity as the same pair', async () => {
    const client = answers('created')
    const p = preauthorizer(client)
    await p.ensure({ a: '1', b: '2' }, SPKI, PEM)
    expect(await p.ensure({ b: '2', a: '1' }, SPKI, PEM)).toBe('cached')
  })

  it('treats another key for the same identity as a new pair', async () => {
    const p = preauthorizer(answers('created'))
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(await p.ensure(IDENTITY, Buffer.from('spki-of-key-two'), PEM)).toBe('created')
  })

  it('treats another identity with the same key as a new pair', async () => {
    const p = preauthorizer(answers('created'))
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(await p.ensure({ mac: '02:00:00:00:00:02' }, SPKI, PEM)).toBe('created')
  })

  it('still serves from the cache just before the TTL ends', async () => {
    let now = 0
    const p = preauthorizer(answers('created'), { ttlSeconds: 60, now: () => now })
    await p.ensure(IDENTITY, SPKI, PEM)
    now = 59_999
    expect(await p.ensure(IDENTITY, SPKI, PEM)).toBe('cached')
  })

  it('calls Mender again once the TTL has passed', async () => {
    let now = 0
    const client = answers('created')
    const p = preauthorizer(client, { ttlSeconds: 60, now: () => now })
    await p.ensure(IDENTITY, SPKI, PEM)
    now = 60_000
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(client.calls).toHaveLength(2)
  })

  it('never caches with a TTL of 0', async () => {
    const client = answers('created')
    const p = preauthorizer(client, { ttlSeconds: 0 })
    await p.ensure(IDENTITY, SPKI, PEM)
    await p.ensure(IDENTITY, SPKI, PEM)
    expect(client.calls).toHaveLength(2)
  })

  it('forgets the oldest pair beyond maxEntries', async () => {
    const client = answers('created')
    const p = preauthorizer(client, { maxEntries: 1 })
    await p.ensure(IDENTITY, SPKI, PEM)
    await p.ensure({ mac: 'other' }, SPKI, PEM)
    expect(await p.ensure(IDENTITY, SPKI, PEM)).toBe('created')
  })
})

describe('Preauthorizer single flight', () => {
  function gated (): { client: FakeClient, open: () => void } {
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const client = new FakeClient(async (req) => { await gate; return req.force ? 'created' : 'conflict' })
    return { client, open }
  }

  it('makes one call sequence for 20 concurrent requests of one pair', async () => {
    const { client, open } = gated()
    const p = preauthorizer(client)
    const all = Promise.all(Array.from({ length: 20 }, async () => await p.ensure(IDENTITY, SPKI, PEM)))
    open()
    await all
    expect(client.calls.map((c) => c.force)).toEqual([false, true])
  })

  it('gives every concurrent caller the shared decision', async () => {
    const { client, open } = gated()
    const p = preauthorizer(client)
    const all = Promise.all(Array.from({ length: 20 }, async () => await p.ensure(IDENTITY, SPKI, PEM)))
    open()
    expect(new Set(await all)).toEqual(new Set(['forced']))
  })

  it('runs different pairs in parallel', async () => {
    const { client, open } = gated()
    const p = preauthorizer(client)
    const all = Promise.all([p.ensure({ mac: 'a' }, SPKI, PEM), p.ensure({ mac: 'b' }, SPKI, PEM)])
    await new Promise((resolve) => setImmediate(resolve))
    const started = client.calls.length
    open()
    await all
    expect(started).toBe(2)
  })
})

describe('Preauthorizer failures', () => {
  const failing = (): FakeClient => new FakeClient(async () => {
    throw Object.assign(new Error('management down'), { code: 'MTLS_ERR_MGMT_UNAVAILABLE' })
  })

  it('propagates the client error', async () => {
    await expect(preauthorizer(failing()).ensure(IDENTITY, SPKI, PEM)).rejects.toMatchObject({ code: 'MTLS_ERR_MGMT_UNAVAILABLE' })
  })

  it('propagates a failure of the forced call', async () => {
    const client = new FakeClient(async (req) => {
      if (req.force) throw Object.assign(new Error('refused'), { code: 'MTLS_ERR_PREAUTH_FAILED' })
      return 'conflict'
    })
    await expect(preauthorizer(client).ensure(IDENTITY, SPKI, PEM)).rejects.toMatchObject({ code: 'MTLS_ERR_PREAUTH_FAILED' })
  })

  it('does not cache a failure', async () => {
    const client = failing()
    const p = preauthorizer(client)
    await p.ensure(IDENTITY, SPKI, PEM).catch(() => undefined)
    await p.ensure(IDENTITY, SPKI, PEM).catch(() => undefined)
    expect(client.calls).toHaveLength(2)
  })

  it('succeeds on the next request after a failure', async () => {
    let fail = true
    const client = new FakeClient(async () => {
      if (fail) throw Object.assign(new Error('down'), { code: 'MTLS_ERR_MGMT_UNAVAILABLE' })
      return 'created'
    })
    const p = preauthorizer(client)
    await p.ensure(IDENTITY, SPKI, PEM).catch(() => undefined)
    fail = false
    expect(await p.ensure(IDENTITY, SPKI, PEM)).toBe('created')
  })

  it('rejects every concurrent caller of a failing pair', async () => {
    const p = preauthorizer(failing())
    const results = await Promise.allSettled(Array.from({ length: 5 }, async () => await p.ensure(IDENTITY, SPKI, PEM)))
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'))
  })
})
