// Makes sure an (identity, key) pair is preauthorized in Mender before the device's auth request goes upstream:
// one management call sequence per pair however many requests arrive together, results remembered for a TTL.
import { createHash } from 'node:crypto'
import type { ManagementClient } from '../mender/management-client.js'
import { TtlCache } from '../../lib/ttl-cache.js'
import { identityHash } from './identity.js'

export type PreauthDecision = 'created' | 'conflict' | 'forced' | 'cached'

export interface PreauthorizerOptions {
  client: Pick<ManagementClient, 'preauthorize'>
  force: boolean
  ttlSeconds: number
  maxEntries: number
  now?: () => number
}

const pairKey = (identity: Record<string, unknown>, spki: Buffer): string =>
  `${identityHash(identity)}:${createHash('sha256').update(spki).digest('hex')}`

export class Preauthorizer {
  private readonly cache: TtlCache<Exclude<PreauthDecision, 'cached'>>
  private readonly inflight = new Map<string, Promise<Exclude<PreauthDecision, 'cached'>>>()

  constructor (private readonly o: PreauthorizerOptions) {
    this.cache = new TtlCache(o.maxEntries, o.ttlSeconds * 1000, o.now)
  }

  /** Forgets the pair (Mender refused the device although we had preauthorized it: an admin removed it). */
  forget (identity: Record<string, unknown>, spki: Buffer): void {
    this.cache.delete(pairKey(identity, spki))
  }

  /** Preauthorizes (or finds already done) the pair; `cached` when no management call was needed. */
  async ensure (identity: Record<string, unknown>, spki: Buffer, pubkeyPem: string): Promise<PreauthDecision> {
    const key = pairKey(identity, spki)
    if (this.cache.get(key) !== undefined) return 'cached'
    const pending = this.inflight.get(key)
    if (pending !== undefined) return await pending
    const run = this.run(identity, pubkeyPem).finally(() => this.inflight.delete(key))
    this.inflight.set(key, run)
    const decision = await run
    if (this.o.ttlSeconds > 0) this.cache.set(key, decision)
    return decision
  }

  private async run (identity: Record<string, unknown>, pubkeyPem: string): Promise<Exclude<PreauthDecision, 'cached'>> {
    const first = await this.o.client.preauthorize({ identity, pubkeyPem, force: false })
    if (first === 'created') return 'created'
    if (!this.o.force) return 'conflict'
    await this.o.client.preauthorize({ identity, pubkeyPem, force: true })
    return 'forced'
  }
}
