// CPU and memory accounting of a server's whole process tree from Linux /proc: parsing `/proc/<pid>/stat` text
// (pure), finding a process's descendants, and summing user + system CPU time (of live processes and of the
// children they have reaped) and resident memory over the tree. Workers, nginx's worker and HAProxy's threads count.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

export interface ProcStat {
  pid: number
  ppid: number
  /** Clock ticks: user, system, and the reaped children's user and system time. */
  utime: number
  stime: number
  cutime: number
  cstime: number
  /** Resident set in pages. */
  rssPages: number
}

/** Parses one `/proc/<pid>/stat` line; the name may hold spaces and parentheses, so fields count from the last ')'. */
export function parseStat (text: string): ProcStat {
  const close = text.lastIndexOf(')')
  const open = text.indexOf('(')
  if (close < 0 || open < 0) throw new Error(`not a /proc stat line: ${JSON.stringify(text.slice(0, 60))}`)
  const f = text.slice(close + 2).trim().split(/\s+/).map(Number)
  const at = (i: number): number => {
    const v = f[i]
    if (v === undefined || Number.isNaN(v)) throw new Error(`/proc stat line without field ${i + 3}`)
    return v
  }
  // fields after the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17) … rss(24)
  return {
    pid: Number(text.slice(0, open).trim()),
    ppid: at(1),
    utime: at(11),
    stime: at(12),
    cutime: at(13),
    cstime: at(14),
    rssPages: at(21)
  }
}

/** CPU ticks a stat line accounts for: its own user + system time and that of the children it has reaped. */
export const statTicks = (s: ProcStat): number => s.utime + s.stime + s.cutime + s.cstime

/** `root` and every descendant of it among `stats` (any order). */
export function descendants (root: number, stats: ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>()
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s])
  const out: ProcStat[] = []
  const queue = stats.filter((s) => s.pid === root)
  while (queue.length > 0) {
    const s = queue.shift() as ProcStat
    out.push(s)
    queue.push(...(children.get(s.pid) ?? []))
  }
  return out
}

function sysconf (name: string, fallback: number): number {
  try {
    const n = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim())
    return Number.isFinite(n) && n > 0 ? n : fallback
  } catch {
    return fallback
  }
}

const units = { tick: 0, page: 0 }
function msPerTick (): number {
  if (units.tick === 0) units.tick = 1000 / sysconf('CLK_TCK', 100)
  return units.tick
}
function kibPerPage (): number {
  if (units.page === 0) units.page = sysconf('PAGESIZE', 4096) / 1024
  return units.page
}

/** Every process's stat line that could be read (processes come and go while we read). */
export function allStats (): ProcStat[] {
  const out: ProcStat[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      out.push(parseStat(readFileSync(`/proc/${name}/stat`, 'utf8')))
    } catch { /* gone */ }
  }
  return out
}

export interface TreeSample { cpuMs: number, rssKiB: number, processes: number }

/** CPU time (ms) and resident memory (KiB) of `root` and all its descendants right now. */
export function sampleTree (root: number): TreeSample {
  const tree = descendants(root, allStats())
  return {
    cpuMs: tree.reduce((n, s) => n + statTicks(s), 0) * msPerTick(),
    rssKiB: tree.reduce((n, s) => n + s.rssPages, 0) * kibPerPage(),
    processes: tree.length
  }
}

/** CPU time (ms) this process has been charged for the children it has waited for (wrk runs, client processes). */
export function reapedChildrenCpuMs (): number {
  const s = parseStat(readFileSync('/proc/self/stat', 'utf8'))
  return (s.cutime + s.cstime) * msPerTick()
}
