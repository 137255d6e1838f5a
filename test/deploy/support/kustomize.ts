// Renders the kustomizations of k8s/ without a kustomize binary: the subset they use, implemented as kustomize v5
// does it, and refused loudly outside it. Supported: `resources` (files and folders), `components`,
// `configMapGenerator` (literals, files; behavior create or merge; the content-hash name suffix, references in pod
// specs rewritten to it), `patches` with an inline JSON 6902 patch (add, remove, replace, test) and a kind/name target,
// and `images` (newName, newTag, digest). Order follows kustomize's legacy output order. Where `kubectl` is installed,
// a test renders every kustomization with both and compares (k8s-manifests.test.ts).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { parse } from 'yaml'
import { parseManifests, type Doc } from './repo-files.js'

const FIELDS = new Set(['apiVersion', 'kind', 'resources', 'components', 'configMapGenerator', 'patches', 'images'])
const GENERATOR_FIELDS = new Set(['name', 'behavior', 'literals', 'files'])

interface Generated { originalName: string }
/** A rendered object and, for a generated ConfigMap, the name it was declared with (before the hash suffix). */
interface Res { doc: Doc, generated?: Generated }
interface Generator { name: string, behavior?: 'create' | 'merge', literals?: string[], files?: string[] }
interface Patch { target?: { kind?: string, name?: string }, patch?: string, path?: string }
interface Image { name: string, newName?: string, newTag?: string, digest?: string }

const fail = (dir: string, message: string): never => { throw new Error(`${dir}/kustomization.yaml: ${message}`) }
const nameOf = (d: Doc): string => String((d.metadata as Doc | undefined)?.name ?? '')

function readKustomization (dir: string, kind: 'Kustomization' | 'Component'): Doc {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => join(dir, f)).find((f) => existsSync(f))
  if (file === undefined) return fail(dir, 'not found')
  const k = parse(readFileSync(file, 'utf8')) as Doc
  const unknown = Object.keys(k).filter((f) => !FIELDS.has(f))
  if (unknown.length > 0) fail(dir, `fields outside the supported subset: ${unknown.join(', ')}`)
  if ((k.kind ?? 'Kustomization') !== kind) fail(dir, `is a ${String(k.kind)}, expected a ${kind}`)
  return k
}

// ---- JSON 6902 ----

function pointer (path: string): string[] {
  if (!path.startsWith('/')) throw new Error(`JSON pointer ${path} must start with /`)
  return path.slice(1).split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function parentOf (doc: unknown, parts: string[], path: string): unknown {
  let cur = doc
  for (const p of parts.slice(0, -1)) {
    const next = Array.isArray(cur) ? cur[Number(p)] : (cur as Record<string, unknown> | null)?.[p]
    if (next === undefined || next === null || typeof next !== 'object') throw new Error(`${path}: no ${p}`)
    cur = next
  }
  return cur
}

/** One JSON 6902 operation on `doc` (in place); throws when a path does not exist or a `test` does not hold. */
export function applyOperation (doc: Doc, op: { op: string, path: string, value?: unknown }): void {
  const parts = pointer(op.path)
  const last = parts.at(-1) as string
  const parent = parentOf(doc, parts, op.path) as Record<string, unknown> | unknown[]
  const isArray = Array.isArray(parent)
  const index = last === '-' && isArray ? parent.length : Number(last)
  const exists = isArray ? index >= 0 && index < parent.length : Object.hasOwn(parent, last)
  if (op.op !== 'add' && !exists) throw new Error(`${op.op} ${op.path}: no such path`)
  const value = structuredClone(op.value)
  if (op.op === 'test') {
    const actual = isArray ? parent[index] : parent[last]
    if (!isDeepStrictEqual(actual, op.value)) throw new Error(`test ${op.path}: ${JSON.stringify(actual)} is not ${JSON.stringify(op.value)}`)
  } else if (op.op === 'remove') {
    if (isArray) parent.splice(index, 1); else Reflect.deleteProperty(parent, last)
  } else if (op.op === 'add' && isArray) {
    if (!(index >= 0 && index <= parent.length)) throw new Error(`add ${op.path}: index out of range`)
    parent.splice(index, 0, value)
  } else if (op.op === 'add' || op.op === 'replace') {
    if (isArray) parent[index] = value; else parent[last] = value
  } else {
    throw new Error(`${op.op} ${op.path}: operation outside the supported subset`)
  }
}

function applyPatches (dir: string, patches: Patch[], all: Res[]): void {
  for (const p of patches) {
    if (p.patch === undefined || p.path !== undefined) fail(dir, 'only inline JSON 6902 patches are supported')
    const ops = parse(p.patch as string) as unknown
    if (!Array.isArray(ops)) return fail(dir, 'only JSON 6902 patches (a list of operations) are supported')
    const targets = all.filter((r) => (p.target?.kind === undefined || r.doc.kind === p.target.kind) &&
      (p.target?.name === undefined || nameOf(r.doc) === p.target.name))
    if (targets.length === 0) fail(dir, `patch target ${JSON.stringify(p.target)} matches nothing`)
    for (const t of targets) {
      for (const op of ops as Array<{ op: string, path: string, value?: unknown }>) applyOperation(t.doc, op)
    }
  }
}

// ---- generators ----

/** kustomize's name suffix for a ConfigMap: SHA-256 of Go's JSON of {data, kind, name}, 10 hex digits with the
 * vowel-like ones mapped to consonants. kustomize v5 hashes with an empty name (its lookup of the name misses). */
export function configMapHash (data: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(data).sort().map((k) => [k, data[k]]))
  const json = JSON.stringify({ data: sorted, kind: 'ConfigMap', name: '' })
    .replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  const map: Record<string, string> = { 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' }
  return createHash('sha256').update(json).digest('hex').slice(0, 10).replace(/[013ae]/g, (c) => map[c] as string)
}

function generatorData (dir: string, g: Generator): Record<string, string> {
  const data: Record<string, string> = {}
  for (const l of g.literals ?? []) {
    const at = l.indexOf('=')
    if (at <= 0) fail(dir, `literal ${l} is not key=value`)
    data[l.slice(0, at)] = l.slice(at + 1)
  }
  for (const f of g.files ?? []) {
    const [key, path] = f.includes('=') ? f.split('=', 2) as [string, string] : [basename(f), f]
    data[key] = readFileSync(join(dir, path), 'utf8')
  }
  return data
}

function runGenerators (dir: string, generators: Generator[], all: Res[]): void {
  for (const g of generators) {
    const unknown = Object.keys(g).filter((f) => !GENERATOR_FIELDS.has(f))
    if (unknown.length > 0) fail(dir, `configMapGenerator ${g.name}: unsupported ${unknown.join(', ')}`)
    const data = generatorData(dir, g)
    const existing = all.find((r) => r.doc.kind === 'ConfigMap' && r.generated?.originalName === g.name)
    if ((g.behavior ?? 'create') === 'merge') {
      if (existing === undefined) return fail(dir, `configMapGenerator ${g.name}: nothing to merge into`)
      existing.doc.data = { ...(existing.doc.data as Record<string, string>), ...data }
    } else if (g.behavior === undefined || g.behavior === 'create') {
      if (existing !== undefined) fail(dir, `configMapGenerator ${g.name}: already exists (use behavior: merge)`)
      all.push({ doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data }, generated: { originalName: g.name } })
    } else {
      fail(dir, `configMapGenerator ${g.name}: behavior ${String(g.behavior)} is not supported`)
    }
  }
}

// ---- pod specs: images and ConfigMap references ----

function podSpecs (d: Doc): Doc[] {
  const spec = ((d.spec as Doc | undefined)?.template as Doc | undefined)?.spec as Doc | undefined
  return spec === undefined ? [] : [spec]
}
const containersOf = (s: Doc): Doc[] => [...(s.initContainers ?? []) as Doc[], ...(s.containers ?? []) as Doc[]]

function applyImages (images: Image[], all: Res[]): void {
  for (const c of all.flatMap((r) => podSpecs(r.doc)).flatMap(containersOf)) {
    const image = String(c.image)
    const name = image.split('@')[0]?.replace(/:[^:/]*$/, '') ?? image
    const rule = images.find((i) => i.name === name)
    if (rule === undefined) continue
    const tag = rule.digest !== undefined ? `@${rule.digest}` : rule.newTag !== undefined ? `:${rule.newTag}` : image.slice(name.length)
    c.image = `${rule.newName ?? name}${tag}`
  }
}

function renameConfigMapRefs (spec: Doc, names: Map<string, string>): void {
  const rename = (ref: Doc | undefined): void => {
    const to = ref === undefined ? undefined : names.get(String(ref.name))
    if (ref !== undefined && to !== undefined) ref.name = to
  }
  for (const c of containersOf(spec)) {
    for (const e of (c.env ?? []) as Doc[]) rename((e.valueFrom as Doc | undefined)?.configMapKeyRef as Doc | undefined)
    for (const e of (c.envFrom ?? []) as Doc[]) rename(e.configMapRef as Doc | undefined)
  }
  for (const v of (spec.volumes ?? []) as Doc[]) {
    rename(v.configMap as Doc | undefined)
    for (const s of ((v.projected as Doc | undefined)?.sources ?? []) as Doc[]) rename(s.configMap as Doc | undefined)
  }
}

/** The hash suffix on every generated ConfigMap, and the pod specs' references to them renamed. */
function finishNames (all: Res[]): void {
  const names = new Map<string, string>()
  for (const r of all.filter((x) => x.generated !== undefined)) {
    const name = `${r.generated?.originalName ?? ''}-${configMapHash(r.doc.data as Record<string, string>)}`
    names.set(r.generated?.originalName ?? '', name);
    (r.doc.metadata as Doc).name = name
  }
  for (const spec of all.flatMap((r) => podSpecs(r.doc))) renameConfigMapRefs(spec, names)
}

// ---- building ----

function accumulate (dir: string, k: Doc, all: Res[]): void {
  for (const entry of (k.resources ?? []) as string[]) {
    const path = resolve(dir, entry)
    if (statSync(path).isDirectory()) all.push(...build(path, 'Kustomization'))
    else all.push(...parseManifests(entry, readFileSync(path, 'utf8')).map((m) => ({ doc: m.doc })))
  }
  for (const entry of (k.components ?? []) as string[]) {
    const path = resolve(dir, entry)
    accumulate(path, readKustomization(path, 'Component'), all)
  }
  runGenerators(dir, (k.configMapGenerator ?? []) as Generator[], all)
  applyPatches(dir, (k.patches ?? []) as Patch[], all)
  applyImages((k.images ?? []) as Image[], all)
}

function build (dir: string, kind: 'Kustomization' | 'Component'): Res[] {
  const all: Res[] = []
  accumulate(dir, readKustomization(dir, kind), all)
  const ids = all.map((r) => `${String(r.doc.kind)}/${nameOf(r.doc)}`)
  const dup = ids.find((id, i) => ids.indexOf(id) !== i)
  if (dup !== undefined) fail(dir, `${dup} is defined twice`)
  return all
}

const ORDER_FIRST = ['Namespace', 'ResourceQuota', 'StorageClass', 'CustomResourceDefinition', 'ServiceAccount',
  'PodSecurityPolicy', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'Secret', 'Endpoints',
  'Service', 'LimitRange', 'PriorityClass', 'PersistentVolume', 'PersistentVolumeClaim', 'Deployment', 'StatefulSet',
  'CronJob', 'PodDisruptionBudget']
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']

function sortKey (d: Doc): [number, string, string] {
  const kind = String(d.kind)
  const first = ORDER_FIRST.indexOf(kind)
  const rank = first >= 0 ? first : ORDER_LAST.includes(kind) ? 1000 + ORDER_LAST.indexOf(kind) : 500
  const [group, version] = String(d.apiVersion).includes('/') ? String(d.apiVersion).split('/') : ['', String(d.apiVersion)]
  return [rank, `${group ?? ''}_${version ?? ''}_${kind}`, nameOf(d)]
}

/** The API objects `kubectl kustomize <dir>` prints, in its order. */
export function renderKustomization (dir: string): Doc[] {
  const all = build(resolve(dir), 'Kustomization')
  finishNames(all)
  const cmp = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0
  return all.map((r) => r.doc).sort((a, b) => {
    const [ka, kb] = [sortKey(a), sortKey(b)]
    return ka[0] - kb[0] || cmp(ka[1], kb[1]) || cmp(ka[2], kb[2])
  })
}
