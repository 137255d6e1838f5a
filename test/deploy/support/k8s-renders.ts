// Every way k8s/ is meant to be applied, rendered: the base, each overlay, and the optional components on top of an
// overlay (a kustomization written under .cache/, as an operator's own overlay would list them). Also the Secrets
// operators create themselves, read from the `kubectl create secret` commands the README and the kustomizations show.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { stringify } from 'yaml'
import { renderKustomization } from './kustomize.js'
import { isKustomizationFile, K8S_DIR, k8sFiles, readRepoFile, REPO, type Doc } from './repo-files.js'

export interface Render { name: string, dir: string, docs: Doc[] }

export const OVERLAYS = readdirSync(join(K8S_DIR, 'overlays')).sort()
export const COMPONENTS = readdirSync(join(K8S_DIR, 'components')).sort()

/** A kustomization of `resources` plus `components` under .cache/k8s/<name> (git-ignored), as an operator writes it. */
function composition (name: string, resource: string, components: string[]): string {
  const dir = join(REPO, '.cache', 'k8s', name)
  mkdirSync(dir, { recursive: true })
  const rel = (p: string): string => relative(dir, join(K8S_DIR, p))
  const text = stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [rel(resource)], components: components.map(rel)
  })
  const file = join(dir, 'kustomization.yaml')
  // test files render in parallel processes: never let one read a half-written file
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    writeFileSync(`${file}.${process.pid}`, text)
    renameSync(`${file}.${process.pid}`, file)
  }
  return dir
}

/** The base, every overlay, and the aws-nlb overlay with all components. */
export function renderTargets (): Array<{ name: string, dir: string }> {
  return [
    { name: 'base', dir: join(K8S_DIR, 'base') },
    ...OVERLAYS.map((o) => ({ name: `overlays/${o}`, dir: join(K8S_DIR, 'overlays', o) })),
    { name: 'overlays/aws-nlb + components', dir: composition('with-components', 'overlays/aws-nlb', COMPONENTS.map((c) => `components/${c}`)) }
  ]
}

export const renders = (): Render[] => renderTargets().map((t) => ({ ...t, docs: renderKustomization(t.dir) }))

/** `name` → keys of every Secret created by a `kubectl create secret` command in `text` (README code blocks, YAML
 * comments; continuation lines joined). */
export function secretsCreatedBy (text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  const joined = text.replace(/\\\n#?\s*/g, ' ')
  for (const m of joined.matchAll(/create secret (generic|tls) ([a-z0-9.-]+)([^\n]*)/g)) {
    const keys = out.get(m[2] as string) ?? new Set<string>()
    if (m[1] === 'tls') ['tls.crt', 'tls.key'].forEach((k) => keys.add(k))
    for (const a of (m[3] ?? '').matchAll(/--from-(literal|file)[= ](\S+)/g)) {
      const arg = (a[2] as string).replace(/^['"]|['"]$/g, '')
      keys.add(a[1] === 'literal' || arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : basename(arg))
    }
    out.set(m[2] as string, keys)
  }
  return out
}

/** The README's Deployment section (up to the next `## ` heading). */
export const readmeDeployment = (): string => /\n## Deployment\n([\s\S]*?)\n## /.exec(readRepoFile('README.md'))?.[1] ?? ''

/** Secrets (name → keys) the documentation tells operators to create: the README's Deployment section and the
 * commands in the kustomizations' comments. */
export function documentedSecrets (): Map<string, Set<string>> {
  const texts = [readmeDeployment(), ...k8sFiles().filter(isKustomizationFile).map((f) => readRepoFile(`k8s/${f}`))]
  return secretsCreatedBy(texts.join('\n'))
}
