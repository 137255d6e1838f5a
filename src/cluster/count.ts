// How many worker processes to run: `workers` as configured, `auto` being the cores this process may use (the
// available parallelism, capped by a cgroup CPU quota such as a container's CPU limit), except that a tunnel listening
// on a Unix socket or an inherited one keeps a single process (such a listener has one owner; configuration refuses
// an explicit count above 1 for it).
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import type { Config } from '../config/model.js'

export interface WorkerCount { count: number, reason: 'configured' | 'cores' | 'cpu quota' | 'single-owner listener' }

type Read = (path: string) => string

const readText: Read = (path) => readFileSync(path, 'utf8')

/** Whole CPUs a cgroup quota allows (v2 `cpu.max`, else v1 `cpu.cfs_quota_us`), rounded up; undefined when none. */
export function cpuQuota (read: Read = readText): number | undefined {
  const cpus = (quota: number, period: number): number | undefined =>
    Number.isFinite(quota) && quota > 0 && Number.isFinite(period) && period > 0 ? Math.ceil(quota / period) : undefined
  try {
    const [quota = '', period = ''] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/)
    return quota === 'max' ? undefined : cpus(Number(quota), Number(period))
  } catch { /* not cgroup v2 */ }
  try {
    return cpus(Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')), Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')))
  } catch {
    return undefined
  }
}

export function workerCount (
  config: Config, cores: number = availableParallelism(), quota: number | undefined = cpuQuota()
): WorkerCount {
  const w = config.common.workers
  if (w !== 'auto') return { count: w, reason: 'configured' }
  if (config.tunnels.some((t) => t.listen_address.kind !== 'tcp')) return { count: 1, reason: 'single-owner listener' }
  if (quota !== undefined && quota < cores) return { count: Math.max(1, quota), reason: 'cpu quota' }
  return { count: Math.max(1, cores), reason: 'cores' }
}
