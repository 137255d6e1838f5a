// A parser for the Dockerfile subset this repository uses: global ARGs, stages (FROM … AS name) and their
// instructions with line continuations joined, exec-form (JSON) arguments, COPY flags and HEALTHCHECK options.
export interface Instruction { op: string, args: string, line: number }
export interface Stage { name: string | undefined, from: string, instructions: Instruction[] }
export interface Dockerfile { args: Record<string, string>, stages: Stage[] }
export interface Copy { from: string | undefined, flags: Record<string, string>, sources: string[], dest: string }
export interface Healthcheck { options: Record<string, string>, command: string[] }

function logicalLines (text: string): Array<{ text: string, line: number }> {
  const out: Array<{ text: string, line: number }> = []
  let current: { text: string, line: number } | undefined
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim()
    if (current === undefined && (trimmed === '' || trimmed.startsWith('#'))) return
    if (current !== undefined && trimmed.startsWith('#')) return
    const continued = trimmed.endsWith('\\')
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed
    current = current === undefined ? { text: part, line: i + 1 } : { ...current, text: `${current.text} ${part}`.trim() }
    if (!continued) {
      out.push(current)
      current = undefined
    }
  })
  if (current !== undefined) out.push(current)
  return out
}

function substitute (value: string, args: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => args[a ?? b ?? ''] ?? m)
}

export function parseDockerfile (text: string): Dockerfile {
  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const { text: l, line } of logicalLines(text)) {
    const m = /^(\w+)\s*(.*)$/.exec(l)
    if (m === null) throw new Error(`Dockerfile line ${line}: cannot parse ${l}`)
    const op = (m[1] as string).toUpperCase()
    const rest = m[2] as string
    if (op === 'FROM') {
      const [image = '', as, name] = rest.split(/\s+/)
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, from: substitute(image, args), instructions: [] })
    } else if (stages.length === 0) {
      if (op !== 'ARG') throw new Error(`Dockerfile line ${line}: ${op} before FROM`)
      const [k = '', v = ''] = rest.split('=', 2)
      args[k.trim()] = v.trim()
    } else {
      (stages[stages.length - 1] as Stage).instructions.push({ op, args: rest, line })
    }
  }
  return { args, stages }
}

/** The arguments of an exec-form instruction (`["a", "b"]`), or undefined for shell form. */
export function execForm (args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined
  const parsed = JSON.parse(args) as unknown
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`not an exec form: ${args}`)
  return parsed
}

function splitFlags (args: string): { flags: Record<string, string>, rest: string } {
  const flags: Record<string, string> = {}
  let rest = args.trim()
  for (let m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest); m !== null; m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest)) {
    flags[m[1] as string] = m[2] ?? 'true'
    rest = rest.slice(m[0].length)
  }
  return { flags, rest }
}

export function parseCopy (args: string): Copy {
  const { flags, rest } = splitFlags(args)
  const list = execForm(rest) ?? rest.split(/\s+/)
  if (list.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`)
  return { from: flags.from, flags, sources: list.slice(0, -1), dest: list[list.length - 1] as string }
}

export function parseHealthcheck (args: string): Healthcheck {
  const { flags, rest } = splitFlags(args)
  const m = /^CMD\s+(.*)$/s.exec(rest)
  if (m === null) throw new Error(`HEALTHCHECK without CMD: ${args}`)
  const tail = m[1] as string
  return { options: flags, command: execForm(tail) ?? ['/bin/sh', '-c', tail] }
}

/** The instructions of a stage with the given op. */
export function ops (stage: Stage, op: string): Instruction[] {
  return stage.instructions.filter((i) => i.op === op)
}

/** The last stage: what the image runs. */
export function finalStage (d: Dockerfile): Stage {
  const last = d.stages[d.stages.length - 1]
  if (last === undefined) throw new Error('Dockerfile has no stage')
  return last
}
