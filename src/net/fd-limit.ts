// The process's open-file limit (RLIMIT_NOFILE, soft) and the connection budget it leaves: every connection holds a
// descriptor, and a proxied one a second towards its target, so a cap on connections below the limit makes the kernel's
// EMFILE (accepted sockets silently dropped, files and upstream dials failing) a counted, logged refusal instead.
import { readFileSync } from 'node:fs'

/** Descriptors kept for everything but connections: the runtime, listeners, watched files, logs, reloads. */
export const FD_RESERVE = 64

/** The soft open-file limit from /proc/self/limits text; undefined when unlimited or not readable. */
export function parseOpenFileLimit (limits: string): number | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1]
  if (soft === undefined || !/^\d+$/.test(soft)) return undefined
  return Number(soft)
}

/** This process's soft open-file limit (Linux); undefined elsewhere or when unlimited. */
export function openFileLimit (): number | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'))
  } catch {
    return undefined
  }
}

/** Most connections `limit` descriptors can carry (two each, past the reserve); at least 1. */
export function connectionBudget (limit: number, reserve = FD_RESERVE): number {
  return Math.max(1, Math.floor((limit - reserve) / 2))
}

/**
 * The connection cap to apply: `configured` (0 = none) lowered to the budget of the open-file limit when that is
 * smaller; `lowered` says whether the limit decided.
 */
export function cappedConnections (configured: number, limit: number | undefined): { max: number, lowered: boolean } {
  if (limit === undefined) return { max: configured, lowered: false }
  const budget = connectionBudget(limit)
  if (configured > 0 && configured <= budget) return { max: configured, lowered: false }
  return { max: budget, lowered: true }
}
