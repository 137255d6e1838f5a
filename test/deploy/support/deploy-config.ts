// The configuration-facing facts of the deployment artefacts: the Deployment's container and env (resolved with the
// kustomization's ConfigMap literals and secrets.example.yaml), the compose services, the Dockerfile's runtime stage.
import { FIELDS, type ConfigKey } from '../../../src/config/schema.js'
import { parseListen } from '../../../src/config/listen.js'
import { finalStage, parseDockerfile, type Stage } from './dockerfile.js'
import { at, composeFile, k8sManifests, kustomization, readRepoFile, type Doc } from './repo-files.js'

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: { configMapKeyRef?: KeyRef, secretKeyRef?: KeyRef }
}
export interface KeyRef { name: string, key: string, optional?: boolean }
export interface Probe { httpGet?: { path: string, port: string | number } }

export const defaultOf = (key: ConfigKey): unknown => (FIELDS[key].schema as { default?: unknown }).default
export const ENV_NAMES = new Set(Object.values(FIELDS).map((f) => f.env))

/** Port of a listener default (`listen`, `status_listen`). */
export function defaultPort (key: 'listen' | 'status_listen'): number {
  const parsed = parseListen(String(defaultOf(key)))
  if (parsed === undefined) throw new Error(`default ${key} does not parse`)
  return parsed.port
}

export const manifests = k8sManifests()
export const byKind = (kind: string): Doc[] => manifests.filter((m) => m.doc.kind === kind && m.file !== 'secrets.example.yaml').map((m) => m.doc)
export const deployment = byKind('Deployment')[0] as Doc
export const podSpec = at(deployment, 'spec.template.spec')
export const container = at(podSpec, 'containers.0')
export const containerEnv = (container.env ?? []) as EnvVar[]

/** Every `name=value` the kustomization's configMapGenerator writes, as `configmap/key` → value. */
function configMapLiterals (): Map<string, string> {
  const out = new Map<string, string>()
  for (const g of (kustomization().configMapGenerator ?? []) as Array<{ name: string, literals?: string[] }>) {
    for (const l of g.literals ?? []) out.set(`${g.name}/${l.slice(0, l.indexOf('='))}`, l.slice(l.indexOf('=') + 1))
  }
  return out
}

/** `secret/key` → value of the example Secrets. */
export function exampleSecrets (): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of manifests.filter((x) => x.file === 'secrets.example.yaml')) {
    const name = at<string>(m.doc, 'metadata.name')
    for (const [k, v] of Object.entries((m.doc.stringData ?? {}) as Record<string, string>)) out.set(`${name}/${k}`, v)
  }
  return out
}

/** The container's environment as the pod would see it, with the example Secrets filled in. */
export function resolvedDeploymentEnv (): Record<string, string> {
  const cms = configMapLiterals()
  const secrets = exampleSecrets()
  const env: Record<string, string> = {}
  for (const e of containerEnv) {
    const cm = e.valueFrom?.configMapKeyRef
    const sec = e.valueFrom?.secretKeyRef
    const value = e.value ?? (cm !== undefined ? cms.get(`${cm.name}/${cm.key}`) : sec !== undefined ? secrets.get(`${sec.name}/${sec.key}`) : undefined)
    if (value !== undefined) env[e.name] = value
    else if (sec?.optional !== true) throw new Error(`env ${e.name} has no value`)
  }
  return env
}

export const compose = composeFile()
export const services = compose.services as Record<string, Doc>
export const dockerfileRuntime: Stage = finalStage(parseDockerfile(readRepoFile('Dockerfile')))

/** The first `/path` a node -e health check script or URL asks for. */
export function probedPath (command: string[]): string | undefined {
  return /(?:path:'|:\d+)(\/[\w/]+)/.exec(command.join(' '))?.[1]
}
