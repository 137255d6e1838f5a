// The services of docker-compose.yml as data for the profile checks: profiles, dependencies (depends_on and
// network_mode service:X), mounts, and the tunnel configuration a service runs (loaded with the real loader).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadAll } from '../../../src/config/load.js'
import type { Config } from '../../../src/config/model.js'
import { composeFile, REPO, type Doc } from './repo-files.js'

export type Services = Record<string, Doc>

export const composeServices = (doc: Doc = composeFile()): Services => doc.services as Services

export const profilesOf = (s: Doc): string[] => (s.profiles as string[] | undefined) ?? []

/** The services `name` needs started first: its depends_on keys and the owner of its network namespace. */
export function dependenciesOf (s: Doc): string[] {
  const deps = Object.keys((s.depends_on as Doc | undefined) ?? {})
  const net = /^service:(.+)$/.exec(typeof s.network_mode === 'string' ? s.network_mode : '')?.[1]
  return net === undefined ? deps : [...deps, net]
}

/** `name` and everything it needs, transitively (what `docker compose up name` starts). */
export function closure (services: Services, name: string): string[] {
  const seen = new Set<string>()
  const visit = (n: string): void => {
    if (seen.has(n)) return
    seen.add(n)
    for (const d of dependenciesOf(services[n] ?? {})) visit(d)
  }
  visit(name)
  return [...seen].sort()
}

export interface Mount { source: string, target: string, readOnly: boolean, bind: boolean }

/** The short-syntax volume entries of a service (`source:target[:ro]`). */
export function mountsOf (s: Doc): Mount[] {
  return ((s.volumes as string[] | undefined) ?? []).map((v) => {
    const [source = '', target = '', mode] = v.split(':')
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') }
  })
}

/** The host file a container path comes from through a bind mount (repo-relative), or undefined. */
export function hostFileOf (s: Doc, containerPath: string): string | undefined {
  const m = mountsOf(s).find((x) => x.bind && (containerPath === x.target || containerPath.startsWith(x.target + '/')))
  return m === undefined ? undefined : join(m.source, containerPath.slice(m.target.length))
}

/** The named volume holding `containerPath` in this service, or undefined. */
export function volumeOf (s: Doc, containerPath: string): string | undefined {
  return mountsOf(s).find((x) => !x.bind && containerPath.startsWith(x.target + '/'))?.source
}

export const repoPath = (p: string): string => join(REPO, p)
export const repoHas = (p: string): boolean => existsSync(repoPath(p))

/** The command or entrypoint of a service as one string (for looking up the addresses it uses). */
export function commandText (s: Doc): string {
  const part = (v: unknown): string => Array.isArray(v) ? v.join(' ') : typeof v === 'string' ? v : ''
  return `${part(s.entrypoint)} ${part(s.command)}`
}

/** The tunnels of the config file a `serve --config FILE` service runs, loaded as the process would load them. */
export function tunnelsOf (s: Doc): { file: string, tunnels: Config['tunnels'], statusPort: number } | undefined {
  const cmd = s.command as string[] | undefined
  const i = cmd?.indexOf('--config') ?? -1
  if (cmd === undefined || cmd[0] !== 'serve' || i < 0) return undefined
  const file = hostFileOf(s, cmd[i + 1] ?? '')
  if (file === undefined) throw new Error(`config ${cmd[i + 1] ?? ''} is not mounted from the repository`)
  const { settings, config } = loadAll({ file: repoPath(file), env: {} })
  if (config.gateway !== undefined) throw new Error(`${file} configures the gateway too`)
  return { file, tunnels: config.tunnels, statusPort: portOf(settings.status_listen) }
}

/** The port of `host:port` (or of a listen object's text). */
export const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1))
export const hostOf = (address: string): string => address.slice(0, address.lastIndexOf(':'))

/** The port the service's healthcheck asks (`http://127.0.0.1:PORT/`), or undefined. */
export function healthPort (s: Doc): number | undefined {
  const test = ((s.healthcheck as Doc | undefined)?.test as string[] | undefined)?.join(' ') ?? ''
  const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(test)
  return m === null ? undefined : Number(m[1])
}
