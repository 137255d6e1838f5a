// Reads the deployment artefacts of the repository: k8s manifests (as kubectl parses them), the compose file (as
// compose parses it, merge keys included) and the build context docker would send (files minus .dockerignore).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'
import { dockerignoreFilter } from './dockerignore.js'

export const REPO = fileURLToPath(new URL('../../..', import.meta.url))
export const K8S_DIR = join(REPO, 'k8s')

export type Doc = Record<string, unknown>
export interface Manifest { file: string, index: number, doc: Doc }

export function readRepoFile (path: string): string {
  return readFileSync(join(REPO, path), 'utf8')
}

/** Every YAML file under k8s/, as a path relative to it (sorted). */
export function k8sFiles (): string[] {
  return readdirSync(K8S_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).map((f) => f.split(sep).join('/')).sort()
}

export const isKustomizationFile = (f: string): boolean => /(^|\/)kustomization\.ya?ml$/.test(f)

/** Parses a multi-document YAML file the way kubectl does (YAML 1.1: `0440` is octal); throws on syntax errors. */
export function parseManifests (file: string, text: string): Manifest[] {
  return parseAllDocuments(text, { version: '1.1' }).flatMap((d, index) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`)
    const doc = d.toJS() as Doc | null
    return doc === null ? [] : [{ file, index, doc }]
  })
}

/** The YAML documents of the files under k8s/ (kustomize's own files excluded), as written (not rendered). */
export function k8sManifests (): Manifest[] {
  return k8sFiles().filter((f) => !isKustomizationFile(f))
    .flatMap((f) => parseManifests(f, readFileSync(join(K8S_DIR, f), 'utf8')))
}

/** The kustomization.yaml of a folder under k8s/ (`base`, `overlays/aws-nlb`, …). */
export function kustomization (dir: string): Doc {
  return parse(readFileSync(join(K8S_DIR, dir, 'kustomization.yaml'), 'utf8')) as Doc
}

/** docker-compose.yml with `<<` merge keys resolved, as compose reads it. */
export function composeFile (): Doc {
  return parse(readRepoFile('docker-compose.yml'), { merge: true }) as Doc
}

/** Files docker would send as the build context: the work tree's files (tracked and untracked, not git-ignored, and the
 * git-ignored ones under certs/, where keys live) that .dockerignore lets through. */
export function buildContextFiles (): string[] {
  const listed = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' })
  const ignoredCerts = execFileSync('git', ['ls-files', '-oi', '--exclude-standard', '-z', '--', 'certs'], { cwd: REPO, encoding: 'utf8' })
  const keep = dockerignoreFilter(readRepoFile('.dockerignore'))
  return [...new Set([...listed.split('\0'), ...ignoredCerts.split('\0')])].filter((f) => f !== '' && keep(f)).sort()
}

/** The value at a dotted path (`spec.template.spec.containers.0`) of a parsed document; throws when absent. */
export function at<T = Doc> (doc: unknown, path: string): T {
  let cur: unknown = doc
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in cur)) throw new Error(`no ${path} (stopped at ${part})`)
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur as T
}
