// The primary's workers: `count` processes forked at start (the start fails, and every worker stops, when one of them
// cannot start), each replaced after an unexpected exit with a growing delay (not while stopping); requests fanned
// out to every worker that listens; a stop that drains them all for the deadline, then kills what is left.
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { LogCodes } from '../errors.js'
import type { Answers, RequestKind } from './messages.js'
import { Member, type Started } from './member.js'

export interface PoolOptions {
  count: number
  log: Logger
  /** The ticket secret every worker derives its session-ticket keys from (hex). */
  secret: string
  fork: () => Worker
  /** First and longest delay before a worker that exited is replaced (ms). */
  restartMs?: { min: number, max: number }
  /** A worker that ran this long before exiting is replaced after the first delay again (ms). */
  stableMs?: number
  onRestart?: () => void
}

/** The answer of one worker (its cluster id), or why it gave none. */
export type Answer<K extends RequestKind> =
  | { worker: number, ok: true, value: Answers[K] }
  | { worker: number, ok: false, error: string }

export class WorkerPool {
  private readonly slots: Array<Member | undefined>
  private readonly failures: number[]
  private readonly timers = new Set<NodeJS.Timeout>()
  private stopping = false
  /** Until every first worker listens, an exit fails the start instead of being replaced. */
  private starting = true

  constructor (private readonly o: PoolOptions) {
    this.slots = Array.from({ length: o.count }, () => undefined)
    this.failures = Array.from({ length: o.count }, () => 0)
  }

  get size (): number { return this.o.count }

  /** Workers that listen now. */
  get listening (): number { return this.slots.filter((m) => m?.isStarted === true).length }

  /** Forks every worker; resolves with the first one's addresses once all listen, or rejects with a failure. */
  async start (): Promise<Started> {
    const members = this.slots.map((_, slot) => this.spawn(slot))
    const results = await Promise.allSettled(members.map(async (m) => await m.started))
    this.starting = false
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return (results[0] as PromiseFulfilledResult<Started>).value
  }

  /** Asks every listening worker (answers within `timeoutMs`, or the reason there was none). */
  async ask<K extends RequestKind> (kind: K, timeoutMs: number, trigger?: string): Promise<Array<Answer<K>>> {
    const members = this.slots.filter((m): m is Member => m?.isStarted === true)
    return await Promise.all(members.map(async (m): Promise<Answer<K>> => {
      try {
        return { worker: m.id, ok: true, value: await m.ask(kind, timeoutMs, trigger) }
      } catch (err) {
        return { worker: m.id, ok: false, error: (err as Error).message }
      }
    }))
  }

  /** Asks every worker to drain for `deadlineMs` and exit; kills those still running `graceMs` after that. */
  async stop (deadlineMs: number, graceMs = 3000): Promise<void> {
    this.stopping = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    const members = this.slots.filter((m): m is Member => m !== undefined)
    const kill = setTimeout(() => { for (const m of members) m.kill() }, deadlineMs + graceMs)
    await Promise.all(members.map(async (m) => {
      // one still starting has nothing to drain
      if (m.isStarted) m.ask('stop', deadlineMs + graceMs).catch(() => {})
      else m.kill()
      await m.exited
    }))
    clearTimeout(kill)
  }

  private spawn (slot: number): Member {
    const m = new Member(this.o.fork(), this.o.secret)
    this.slots[slot] = m
    m.exited.then(({ code, signal }) => { this.exited(slot, m, code, signal) }, () => {})
    return m
  }

  /** An exit outside a stop: logged, and the worker replaced after a delay that grows while it keeps failing. */
  private exited (slot: number, m: Member, code: number | null, signal: string | null): void {
    if (this.stopping || this.starting || this.slots[slot] !== m) return
    this.slots[slot] = undefined
    const { min, max } = this.o.restartMs ?? { min: 500, max: 30_000 }
    const stable = m.isStarted && Date.now() - m.startedAt >= (this.o.stableMs ?? 30_000)
    this.failures[slot] = stable ? 0 : (this.failures[slot] ?? 0) + 1
    const delay = Math.min(max, min * 2 ** Math.max(0, (this.failures[slot] ?? 1) - 1))
    this.o.log.error({
      event: 'worker_exit', code: LogCodes.WORKER_EXIT, worker: m.id, pid: m.pid, exitCode: code, signal, restartInMs: delay
    }, 'worker exited unexpectedly, starting another')
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.stopping) return
      this.o.onRestart?.()
      const next = this.spawn(slot)
      next.started.then((s) => {
        this.o.log.info({ event: 'worker_started', worker: next.id, pid: next.pid, addresses: s.addresses }, 'worker started')
      }, (err: Error) => {
        this.o.log.error({ event: 'worker_start_failed', worker: next.id, cause: err.message }, 'worker could not start')
      })
    }, delay)
    this.timers.add(timer)
  }
}
