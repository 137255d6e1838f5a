// CRLs fetched from their distribution-point URLs on a schedule. The last good copy of each is kept when a fetch
// fails; a changed copy triggers a reload (which verifies its signature like any CRL file).
import { LogCodes } from '../errors.js'
import { request } from 'undici'
import type { Logger } from 'pino'

export interface CrlFetcherOptions {
  urls: readonly string[]
  intervalMs: number
  timeoutMs: number
  log: Logger
  onResult?: (ok: boolean) => void
}

const MAX_CRL_BYTES = 32 * 1024 * 1024

export class CrlFetcher {
  private readonly copies = new Map<string, Buffer>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly o: CrlFetcherOptions) {}

  /** The last good copy of every CRL fetched so far. */
  current (): ReadonlyMap<string, Buffer> { return this.copies }

  /** Fetches every URL once; resolves with whether any copy changed. */
  async fetchAll (): Promise<boolean> {
    const results = await Promise.all(this.o.urls.map(async (url) => await this.fetchOne(url)))
    return results.some((changed) => changed)
  }

  private async fetchOne (url: string): Promise<boolean> {
    try {
      const res = await request(url, { headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs })
      if (res.statusCode !== 200) {
        await res.body.dump()
        throw new Error(`HTTP ${res.statusCode}`)
      }
      const bytes = Buffer.from(await res.body.arrayBuffer())
      if (bytes.length === 0 || bytes.length > MAX_CRL_BYTES) throw new Error(`unexpected size ${bytes.length}`)
      this.o.onResult?.(true)
      if (this.copies.get(url)?.equals(bytes) === true) return false
      this.copies.set(url, bytes)
      return true
    } catch (err) {
      this.o.onResult?.(false)
      this.o.log.warn({ code: LogCodes.CRL_FETCH, url, cause: (err as Error).message, kept: this.copies.has(url) }, 'CRL fetch failed, keeping the last good copy')
      return false
    }
  }

  /** Fetches every `intervalMs`; `onChange` after a round that changed at least one CRL. */
  start (onChange: () => void): void {
    const tick = (): void => {
      this.fetchAll().then((changed) => { if (changed && !this.stopped) onChange() }, () => {}).finally(() => {
        if (this.stopped) return
        this.timer = setTimeout(tick, this.o.intervalMs)
        this.timer.unref()
      })
    }
    this.timer = setTimeout(tick, this.o.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }
}
