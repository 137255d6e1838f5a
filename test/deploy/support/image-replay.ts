// Replays the Dockerfile without a container engine: the build stage's COPY and RUN steps run on the host in a
// stage folder fed with the build context, the runtime stage's COPY --from steps assemble the image folder, and
// ENV/USER/WORKDIR/ENTRYPOINT/CMD/HEALTHCHECK are kept to start it like the container would.
import { execFile } from 'node:child_process'
import { cp, mkdir } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import { promisify } from 'node:util'
import { execForm, parseCopy, parseHealthcheck, type Dockerfile, type Healthcheck, type Instruction, type Stage } from './dockerfile.js'

const run = promisify(execFile)

export interface ImageFs {
  /** Host folder standing for the image's root filesystem. */
  root: string
  /** Host folder of the image's WORKDIR. */
  workdir: string
  containerWorkdir: string
  env: Record<string, string>
  user: string
  entrypoint: string[]
  cmd: string[]
  healthcheck: Healthcheck | undefined
}

interface StageState { root: string, cwd: string, env: Record<string, string>, image: ImageFs }

export const hostPath = (root: string, containerPath: string): string => join(root, containerPath)

/** Minimal environment for build commands: node and npm of this machine, the user's npm cache and settings. */
function buildEnv (stageEnv: Record<string, string>): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    npm_config_prefer_offline: 'true',
    ...stageEnv
  }
}

function parseEnv (args: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '')
  return out
}

async function copyFromContext (
  s: StageState, sources: string[], dest: string, context: { dir: string, files: string[] }
): Promise<void> {
  const target = posix.resolve(s.cwd, dest)
  const intoDir = dest.endsWith('/') || sources.length > 1
  for (const source of sources.map((x) => posix.normalize(x).replace(/^\.\//, ''))) {
    const files = context.files.filter((f) => f === source || f.startsWith(source + '/'))
    if (files.length === 0) throw new Error(`COPY ${source}: not in the build context`)
    for (const f of files) {
      const rel = f === source ? posix.basename(f) : posix.relative(source, f)
      const to = f === source && !intoDir ? target : posix.join(target, rel)
      await mkdir(dirname(hostPath(s.root, to)), { recursive: true })
      await cp(join(context.dir, f), hostPath(s.root, to))
    }
  }
}

async function step (
  s: StageState, i: Instruction, stages: Map<string, StageState>, context: { dir: string, files: string[] }
): Promise<void> {
  switch (i.op) {
    case 'WORKDIR':
      s.cwd = posix.resolve(s.cwd, i.args.trim())
      await mkdir(hostPath(s.root, s.cwd), { recursive: true })
      return
    case 'ENV': Object.assign(s.env, parseEnv(i.args)); return
    case 'COPY': {
      const c = parseCopy(i.args)
      if (c.from === undefined) return await copyFromContext(s, c.sources, c.dest, context)
      const from = stages.get(c.from)
      if (from === undefined || c.sources.length !== 1) throw new Error(`COPY --from=${c.from}: unknown stage or several sources`)
      return await cp(
        hostPath(from.root, c.sources[0] as string), hostPath(s.root, posix.resolve(s.cwd, c.dest)), { recursive: true }
      )
    }
    case 'RUN': {
      if (execForm(i.args) !== undefined) throw new Error('exec-form RUN is not replayed')
      await run('/bin/sh', ['-ec', i.args], { cwd: hostPath(s.root, s.cwd), env: buildEnv(s.env), maxBuffer: 64 * 1024 * 1024 })
        .catch((err: { stdout?: string, stderr?: string, message: string }) => {
          throw new Error(`RUN ${i.args} failed: ${err.message}\n${(err.stderr ?? '').slice(-4000)}`)
        })
      return
    }
    case 'USER': s.image.user = i.args.trim(); return
    case 'ENTRYPOINT': s.image.entrypoint = execForm(i.args) ?? ['/bin/sh', '-c', i.args]; s.image.cmd = []; return
    case 'CMD': s.image.cmd = execForm(i.args) ?? ['/bin/sh', '-c', i.args]; return
    case 'HEALTHCHECK': s.image.healthcheck = parseHealthcheck(i.args); return
    case 'EXPOSE': case 'LABEL': case 'ARG': return
    default: throw new Error(`Dockerfile line ${i.line}: ${i.op} is not replayed`)
  }
}

/** Replays every stage into `<dir>/stage-N`; only the final stage may not RUN (its base image is not here). */
export async function replayDockerfile (
  d: Dockerfile, context: { dir: string, files: string[] }, dir: string
): Promise<ImageFs> {
  const stages = new Map<string, StageState>()
  let last: StageState | undefined
  for (const [n, stage] of d.stages.entries()) {
    const root = join(dir, `stage-${n}`)
    await mkdir(root, { recursive: true, mode: 0o755 })
    const image: ImageFs = { root, workdir: root, containerWorkdir: '/', env: {}, user: 'root', entrypoint: [], cmd: [], healthcheck: undefined }
    const s: StageState = { root, cwd: '/', env: {}, image }
    const final = n === d.stages.length - 1
    for (const i of (stage as Stage).instructions) {
      if (final && i.op === 'RUN') throw new Error(`Dockerfile line ${i.line}: RUN in the runtime stage cannot be replayed`)
      await step(s, i, stages, context)
    }
    Object.assign(image, { env: s.env, containerWorkdir: s.cwd, workdir: hostPath(root, s.cwd) })
    stages.set(stage.name ?? String(n), s)
    last = s
  }
  if (last === undefined) throw new Error('no stage')
  return last.image
}
