// How many worker processes to run: `workers` as configured, `auto` being the available parallelism (cores this
// process may use), except that a tunnel listening on a Unix socket or an inherited one keeps a single process (such a
// listener has one owner; configuration refuses an explicit count above 1 for it).
import { availableParallelism } from 'node:os'
import type { Config } from '../config/model.js'

export interface WorkerCount { count: number, reason: 'configured' | 'cores' | 'single-owner listener' }

export function workerCount (config: Config, cores: number = availableParallelism()): WorkerCount {
  const w = config.common.workers
  if (w !== 'auto') return { count: w, reason: 'configured' }
  if (config.tunnels.some((t) => t.listen_address.kind !== 'tcp')) return { count: 1, reason: 'single-owner listener' }
  return { count: Math.max(1, cores), reason: 'cores' }
}
