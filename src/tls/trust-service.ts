// The trust of a listener or a client, in service (fails closed): loaded at start, after a first fetch of the CRL
// distribution points so no revoked peer is admitted meanwhile; reloaded on demand (SIGHUP), on a change in a watched
// folder and after a fetch that changed a CRL; a failed reload keeps the last good state and is retried. Every change
// reaches each registered consumer (a listener's secure context, with fresh session-ticket keys). Started by a mode.
import type { Server } from 'node:tls'
import type { Logger } from 'pino'
import { loadTrust, type TrustSnapshot, type TrustSource } from './trust.js'
import { TrustReloader, type ReloadResult } from './reloader.js'
import { CrlFetcher } from './crl-fetcher.js'
import { installTlsGuard, type GuardOptions, type TlsGuard } from './guard.js'

export interface TrustServiceOptions {
  source: TrustSource
  /** CRL distribution points fetched at start and every `intervalMs` (last good copy kept). */
  crl: { urls: readonly string[], intervalMs: number, timeoutMs: number }
  log: Logger
  retryMs: number
  /** Watch the folders of every trusted file. */
  watch: boolean
  onReload?: (result: ReloadResult) => void
  onCrlFetch?: (ok: boolean) => void
}

export class TrustService {
  private readonly reloader: TrustReloader
  private readonly consumers: Array<(snapshot: TrustSnapshot) => void> = []

  /** Loads the trust (throws MTLS_ERR_TLS_MATERIAL listing every problem) and puts it into service. */
  static async start (o: TrustServiceOptions): Promise<TrustService> {
    const fetcher = o.crl.urls.length === 0
      ? undefined
      : new CrlFetcher({
        urls: o.crl.urls, intervalMs: o.crl.intervalMs, timeoutMs: o.crl.timeoutMs, log: o.log, onResult: o.onCrlFetch
      })
    await fetcher?.fetchAll()
    const initial = await loadTrust(o.source, fetcher?.current())
    return new TrustService(o, initial, fetcher)
  }

  private constructor (
    o: TrustServiceOptions, initial: TrustSnapshot, private readonly fetcher: CrlFetcher | undefined
  ) {
    this.reloader = new TrustReloader({
      source: o.source,
      log: o.log,
      retryMs: o.retryMs,
      fetched: () => fetcher?.current() ?? new Map(),
      apply: (next) => { for (const consume of this.consumers) consume(next) },
      onResult: o.onReload
    }, initial)
    fetcher?.start(() => { this.reloader.reload('crl-fetch').catch(() => {}) })
    if (o.watch) this.reloader.watch()
  }

  /** The snapshot in force. */
  current (): TrustSnapshot { return this.reloader.current() }

  /** The outcome of the last reload (undefined before the first). */
  get lastReload (): ReloadResult | undefined { return this.reloader.last }

  /** Calls `consume` with every later snapshot put into service. */
  onChange (consume: (snapshot: TrustSnapshot) => void): void { this.consumers.push(consume) }

  /** Loads and applies the trust again; never rejects (a failure is logged, reported and retried). */
  async reload (trigger: string): Promise<ReloadResult> { return await this.reloader.reload(trigger) }

  /** Puts the TLS guard on a listener: every connection is admitted against the trust in force, or destroyed. */
  guard (server: Server, o: Omit<GuardOptions, 'trust'>): TlsGuard {
    return installTlsGuard(server, { ...o, trust: () => this.current() })
  }

  /** Stops the reload timers, watchers and CRL fetches. */
  close (): void {
    this.reloader.close()
    this.fetcher?.stop()
  }
}
