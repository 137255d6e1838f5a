// Property runs for the fuzzing files: each property is checked on `runs` random cases (fast-check picks a new seed
// every run and prints it with the shrunk counterexample on failure; FUZZ_SEED replays one), and the cases run are
// tallied per file so its figures record how many cases the run checked.
import fc from 'fast-check'
import { isCoded } from '../../../src/errors.js'
import { writeFigures } from './figures.js'

const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)

export class FuzzTally {
  readonly cases: Record<string, number> = {}

  constructor (readonly scenario: string) {}

  /** Asserts `predicate` (throws or returns false on a counterexample) on `runs` cases of `arb`. */
  check<T>(name: string, arb: fc.Arbitrary<T>, predicate: (value: T) => boolean | void, runs: number): void {
    fc.assert(fc.property(arb, predicate), { numRuns: runs, ...(seed !== undefined ? { seed } : {}) })
    this.cases[name] = (this.cases[name] ?? 0) + runs
  }

  /** Counts cases checked outside check() (e.g. a sample compared with an oracle). */
  add (name: string, runs: number): void {
    this.cases[name] = (this.cases[name] ?? 0) + runs
  }

  get total (): number { return Object.values(this.cases).reduce((a, b) => a + b, 0) }

  write (extra: Record<string, unknown> = {}): void {
    writeFigures(this.scenario, { cases: this.cases, total: this.total, ...extra })
  }
}

/** What a call did: returned, threw a coded error (with its code and status), or threw something else. */
export type Outcome<T> =
  | { kind: 'value', value: T }
  | { kind: 'coded', code: string, status: number | undefined }
  | { kind: 'other', error: unknown }

export function outcome<T> (fn: () => T): Outcome<T> {
  try {
    return { kind: 'value', value: fn() }
  } catch (err) {
    if (isCoded(err)) return { kind: 'coded', code: err.code, status: err.statusCode }
    return { kind: 'other', error: err }
  }
}

/** A JS string as Go's encoding/json reads it back after JSON.stringify: lone surrogates become U+FFFD. */
export function wellFormed (s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD')
}

/** Byte-level mutations of a valid input: flips, deletions, insertions of hostile tokens, truncation. */
export function mutated (base: fc.Arbitrary<Buffer>, tokens: Buffer[]): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), token: fc.constantFrom(...tokens) }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat() })
  )
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => {
    let out = b
    for (const e of edits) {
      const at = out.length === 0 ? 0 : e.at % (out.length + 1)
      if (e.op === 'flip' && out.length > 0) {
        out = Buffer.from(out)
        out[at % out.length] = e.byte
      } else if (e.op === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + e.len)])
      else if (e.op === 'insert') out = Buffer.concat([out.subarray(0, at), e.token, out.subarray(at)])
      else if (e.op === 'cut') out = out.subarray(0, at)
    }
    return out
  })
}
