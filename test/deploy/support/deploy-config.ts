// The configuration-facing facts of the deployment artefacts: the Deployment's container and env as the rendered base
// gives them (resolved with its generated ConfigMap and base/secrets.example.yaml), the compose services, the
// Dockerfile's runtime stage.
import { join } from 'node:path'
import { FIELDS, type ConfigKey } from '../../../src/config/schema.js'
import { parseListen } from '../../../src/config/listen.js'
import { finalStage, parseDockerfile, type Stage } from './dockerfile.js'
import { renderKustomization } from './kustomize.js'
import { at, composeFile, K8S_DIR, parseManifests, readRepoFile, type Doc } from './repo-files.js'

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

/** The base as `kubectl kustomize k8s/base` renders it. */
export const base = renderKustomization(join(K8S_DIR, 'base'))
export const byKind = (kind: string): Doc[] => base.filter((d) => d.kind === kind)
export const deployment = byKind('Deployment')[0] as Doc
export const podSpec = at(deployment, 'spec.template.spec')
export const container = at(podSpec, 'containers.0')
export const containerEnv = (container.env ?? []) as EnvVar[]

/** Every value of the rendered ConfigMaps, as `configmap/key` → value. */
function configMapValues (docs: Doc[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const d of docs.filter((x) => x.kind === 'ConfigMap')) {
    for (const [k, v] of Object.entries((d.data ?? {}) as Record<string, string>)) out.set(`${at<string>(d, 'metadata.name')}/${k}`, v)
  }
  return out
}

export const EXAMPLE_SECRETS = 'k8s/base/secrets.example.yaml'

/** `secret/key` → value of the example Secrets. */
export function exampleSecrets (): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of parseManifests(EXAMPLE_SECRETS, readRepoFile(EXAMPLE_SECRETS))) {
    const name = at<string>(m.doc, 'metadata.name')
    for (const [k, v] of Object.entries((m.doc.stringData ?? {}) as Record<string, string>)) out.set(`${name}/${k}`, v)
  }
  return out
}

/** The container's environment as the pod would see it, with the example Secrets filled in. */
export function resolvedDeploymentEnv (): Record<string, string> {
  const cms = configMapValues(base)
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
