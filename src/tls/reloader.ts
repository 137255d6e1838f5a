// Hot reload of the trust snapshot: SIGHUP or a change in a watched folder (folder-level, so Kubernetes' atomic
// `..data` symlink swap is seen) loads a new snapshot; it is applied only when complete and different. A failure
// keeps the last good snapshot and is retried on a timer. Open connections keep the context they started with.
import { LogCodes } from '../errors.js'
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type { Logger } from 'pino'
import { loadTrust, type FetchedCrls, type TrustSource, type TrustSnapshot } from './trust.js'

export interface ReloadResult { ok: boolean, changed: boolean, trigger: string, at: Date, error?: string }

export interface ReloaderOptions {
  source: TrustSource
  log: Logger
  retryMs: number
  /** CRLs fetched from distribution points (in memory), included in every load. */
  fetched?: () => FetchedCrls
  /** Puts a new snapshot into service (secure context swap). */
  apply: (snapshot: TrustSnapshot) => void
  onResult?: (result: ReloadResult) => void
}

const DEBOUNCE_MS = 200

export class TrustReloader {
  private snapshot: TrustSnapshot
  private running: Promise<ReloadResult> | undefined
  private again = false
  private watchers: FSWatcher[] = []
  private debounce: NodeJS.Timeout | undefined
  private retry: NodeJS.Timeout | undefined
  last: ReloadResult | undefined

  constructor (private readonly o: ReloaderOptions, initial: TrustSnapshot) {
    this.snapshot = initial
  }

  current (): TrustSnapshot { return this.snapshot }

  /** Loads and applies a new snapshot; one reload at a time, a request during one runs once more after it. */
  async reload (trigger: string): Promise<ReloadResult> {
    if (this.running !== undefined) {
      this.again = true
      return await this.running
    }
    this.running = this.run(trigger).finally(() => { this.running = undefined })
    const result = await this.running
    if (this.again) {
      this.again = false
      return await this.reload(`${trigger} (again)`)
    }
    return result
  }

  private async run (trigger: string): Promise<ReloadResult> {
    clearTimeout(this.retry)
    let result: ReloadResult
    try {
      const next = await loadTrust(this.o.source, this.o.fetched?.())
      const changed = next.digest !== this.snapshot.digest
      if (changed) {
        this.o.apply(next)
        this.snapshot = next
      }
      result = { ok: true, changed, trigger, at: new Date() }
      const fields = { event: 'reload', trigger, changed, denylisted: next.denylist.size, crls: next.crls.length }
      if (changed) this.o.log.info(fields, 'trust reloaded')
      else this.o.log.debug(fields, 'trust unchanged')
    } catch (err) {
      result = { ok: false, changed: false, trigger, at: new Date(), error: (err as Error).message }
      this.o.log.error({ event: 'reload', code: LogCodes.RELOAD_FAILED, trigger, cause: result.error }, 'reload failed, keeping the last good state')
      this.retry = setTimeout(() => { this.reload('retry').catch(() => {}) }, this.o.retryMs)
      this.retry.unref()
    }
    this.last = result
    this.o.onResult?.(result)
    return result
  }

  /**
   * Watches the folders of every trusted file and every CRL folder. Only events about those files (or Kubernetes'
   * `..data`-style entries) trigger a reload, so unrelated writes in a shared folder cost nothing.
   */
  watch (): void {
    const interesting = new Map<string, Set<string> | 'any'>()
    for (const f of this.snapshot.files) {
      const names = interesting.get(dirname(f))
      if (names !== 'any') interesting.set(dirname(f), (names ?? new Set<string>()).add(basename(f)))
    }
    for (const entry of this.o.source.crlPaths) {
      if (existsSync(entry) && statSync(entry).isDirectory()) interesting.set(entry, 'any')
    }
    for (const [dir, names] of interesting) {
      try {
        const w = watch(dir, (_event, name) => {
          const file = name === null ? '' : String(name)
          if (names === 'any' || file === '' || file.startsWith('..') || names.has(file)) this.schedule()
        })
        w.on('error', (err) => this.o.log.warn({ event: 'reload', dir, cause: err.message }, 'watch failed'))
        this.watchers.push(w)
      } catch (err) {
        this.o.log.warn({ event: 'reload', dir, cause: (err as Error).message }, 'cannot watch folder')
      }
    }
  }

  private schedule (): void {
    clearTimeout(this.debounce)
    this.debounce = setTimeout(() => { this.reload('watch').catch(() => {}) }, DEBOUNCE_MS)
    this.debounce.unref()
  }

  close (): void {
    clearTimeout(this.debounce)
    clearTimeout(this.retry)
    for (const w of this.watchers) w.close()
    this.watchers = []
  }
}
