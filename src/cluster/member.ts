// One worker process as the primary sees it: the hello it answers with the ticket secret, the start it waits for
// (or the startup failure it reports), and requests answered by id with a deadline; a worker that exits fails what
// it still owed.
import type { Worker } from 'node:cluster'
import { isOurs, type Answers, type FromWorker, type RequestKind, type ToWorker } from './messages.js'

export interface Started { url: string, addresses: Record<string, string>, modes: string[] }

interface Pending { resolve: (value: unknown) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }

/** A worker's startup failure: the message and code it reported, as single-process mode would log them. */
export class WorkerStartFailure extends Error {
  constructor (message: string, readonly code?: string) { super(message) }
}

export class Member {
  /** Resolves once the worker listens; rejects with its startup failure, or when it exits before. */
  readonly started: Promise<Started>
  readonly exited: Promise<{ code: number | null, signal: string | null }>
  isStarted = false
  startedAt = 0
  private readonly pending = new Map<number, Pending>()
  private next = 0

  constructor (readonly worker: Worker, secret: string) {
    let settle: { resolve: (s: Started) => void, reject: (e: Error) => void } | undefined
    this.started = new Promise<Started>((resolve, reject) => { settle = { resolve, reject } })
    this.started.catch(() => {}) // observed by whoever awaits it; a restart may never
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code, signal) => {
        settle?.reject(new WorkerStartFailure(`worker exited before listening (${signal ?? String(code)})`))
        for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new Error('worker exited')) }
        this.pending.clear()
        resolve({ code, signal })
      })
    })
    worker.on('message', (m: unknown) => {
      if (!isOurs<FromWorker>(m)) return
      if (m.mtls === 'hello') this.send({ mtls: 'init', secret })
      else if (m.mtls === 'started') {
        this.isStarted = true
        this.startedAt = Date.now()
        settle?.resolve({ url: m.url, addresses: m.addresses, modes: m.modes })
      } else if (m.mtls === 'failed') settle?.reject(new WorkerStartFailure(m.message, m.code))
      else if (m.mtls === 'answer') this.answered(m)
    })
    // a worker gone while we write to it: its exit handler reports it
    worker.on('error', () => {})
  }

  get id (): number { return this.worker.id }

  get pid (): number | undefined { return this.worker.process.pid }

  /** Asks the worker; rejects after `timeoutMs` or when it exits first. */
  async ask<K extends RequestKind> (kind: K, timeoutMs: number, trigger?: string): Promise<Answers[K]> {
    const id = this.next++
    return await new Promise<Answers[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`worker ${this.id} did not answer ${kind} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.send({ mtls: 'request', id, kind, ...(trigger === undefined ? {} : { trigger }) })
    })
  }

  kill (): void { this.worker.process.kill('SIGKILL') }

  private answered (m: Extract<FromWorker, { mtls: 'answer' }>): void {
    const p = this.pending.get(m.id)
    if (p === undefined) return
    this.pending.delete(m.id)
    clearTimeout(p.timer)
    if (m.error !== undefined) p.reject(new Error(m.error))
    else p.resolve(m.value)
  }

  private send (m: ToWorker): void {
    if (this.worker.isConnected()) this.worker.send(m, undefined, {}, () => {})
  }
}
