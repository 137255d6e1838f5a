// The request ledger of a scenario: every request sent is entered under a unique id and must get exactly one answer,
// the expected one. Counts sent / answered / errors (no answer: the request failed) / wrong answers / duplicates /
// still unanswered, and the latency percentiles of the answered ones.
import { performance } from 'node:perf_hooks'

export interface LedgerSummary {
  sent: number
  answered: number
  /** Requests that got no answer (connection error, timeout, reset). */
  errors: number
  /** Answers that were not the expected one (status, body, another device's data). */
  wrong: number
  /** Answers to a request already answered. */
  duplicates: number
  /** Requests still waiting for their answer. */
  unanswered: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** What `expect` says of an answer: true when it is the expected one, else what is wrong with it. */
export type Verdict = true | string

export interface Pending {
  /** The request got an answer; `verdict` says whether it was the expected one. */
  answer: (verdict?: Verdict) => void
  /** The request got no answer. */
  fail: (err: unknown) => void
}

const MAX_PROBLEMS = 20

/** Nearest-rank percentile of sorted values (0 when there are none). */
export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] ?? 0
}

export class Ledger {
  private readonly open = new Map<string, number>()
  private readonly done = new Set<string>()
  private readonly latencies: number[] = []
  private sent = 0
  private answered = 0
  private errors = 0
  private wrong = 0
  private duplicates = 0
  /** The first problems met (wrong answers, errors, duplicates), for the failure message. */
  readonly problems: string[] = []

  constructor (readonly name: string) {}

  private problem (text: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text)
  }

  /** Enters request `id` as sent; `id` must be new to this ledger. */
  begin (id: string): Pending {
    if (this.open.has(id) || this.done.has(id)) throw new Error(`${this.name}: request id ${id} entered twice`)
    this.open.set(id, performance.now())
    this.sent++
    const settle = (): number | undefined => {
      const started = this.open.get(id)
      if (started === undefined) {
        this.duplicates++
        this.problem(`${id}: answered more than once`)
        return undefined
      }
      this.open.delete(id)
      this.done.add(id)
      return performance.now() - started
    }
    return {
      answer: (verdict = true) => {
        const ms = settle()
        if (ms === undefined) return
        this.answered++
        this.latencies.push(ms)
        if (verdict !== true) {
          this.wrong++
          this.problem(`${id}: ${verdict}`)
        }
      },
      fail: (err) => {
        if (settle() === undefined) return
        this.errors++
        this.problem(`${id}: no answer (${(err as { code?: string }).code ?? (err as Error).message ?? String(err)})`)
      }
    }
  }

  /** Sends one request: `send` performs it, `expect` judges its answer. Never rejects. */
  async run<A>(id: string, send: () => Promise<A>, expect: (answer: A) => Verdict): Promise<A | undefined> {
    const pending = this.begin(id)
    let answer: A
    try {
      answer = await send()
    } catch (err) {
      pending.fail(err)
      return undefined
    }
    let verdict: Verdict
    try {
      verdict = expect(answer)
    } catch (err) {
      verdict = `judging the answer failed: ${(err as Error).message}`
    }
    pending.answer(verdict)
    return answer
  }

  summary (): LedgerSummary {
    const sorted = [...this.latencies].sort((a, b) => a - b)
    const round = (n: number): number => Math.round(n * 10) / 10
    return {
      sent: this.sent,
      answered: this.answered,
      errors: this.errors,
      wrong: this.wrong,
      duplicates: this.duplicates,
      unanswered: this.open.size,
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted.at(-1) ?? 0)
    }
  }

  /** True when every request sent got exactly one answer and each was the expected one. */
  complete (): boolean {
    const s = this.summary()
    return s.sent > 0 && s.answered === s.sent && s.errors === 0 && s.wrong === 0 && s.duplicates === 0 &&
      s.unanswered === 0
  }
}

/** Runs `fn` on every item, at most `concurrency` at a time (bounded: one pass over the items). */
export async function runPool<T> (
  items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i] as T, i)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}
