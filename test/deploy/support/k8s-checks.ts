// Consistency checks over one rendered set of API objects: every Secret and ConfigMap a pod reads exists (created by
// the set or by the operator as documented) with the keys it reads; every selector selects pods or Services of the
// set; every port a Service, NetworkPolicy or ServiceMonitor names is one the selected containers or Services have.
// Each returns its problems as readable lines (empty when consistent).
import type { Doc } from './repo-files.js'

export interface PodTemplate { owner: string, labels: Record<string, string>, spec: Doc }
interface KeyRef { name: string, key: string, optional?: boolean }
interface Port { name?: string, containerPort?: number, port?: number, targetPort?: string | number }

const get = <T>(d: unknown, ...path: string[]): T | undefined =>
  path.reduce<unknown>((cur, p) => (cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined), d) as T | undefined
const nameOf = (d: Doc): string => get<string>(d, 'metadata', 'name') ?? ''
const id = (d: Doc): string => `${String(d.kind)}/${nameOf(d)}`

export function podTemplates (docs: Doc[]): PodTemplate[] {
  return docs.filter((d) => d.kind === 'Deployment').map((d) => ({
    owner: id(d), labels: get<Record<string, string>>(d, 'spec', 'template', 'metadata', 'labels') ?? {}, spec: get<Doc>(d, 'spec', 'template', 'spec') ?? {}
  }))
}

export const containersOf = (spec: Doc): Doc[] =>
  [...(spec.initContainers ?? []) as Doc[], ...(spec.containers ?? []) as Doc[]]
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v)

/** Every Secret/ConfigMap key reference of the pod templates, as `kind name key` plus whether it is optional. */
export function references (t: PodTemplate): Array<{ kind: 'Secret' | 'ConfigMap', name: string, key?: string, optional: boolean }> {
  const out: ReturnType<typeof references> = []
  const add = (kind: 'Secret' | 'ConfigMap', r: KeyRef | undefined): void => {
    if (r !== undefined) out.push({ kind, name: r.name, key: r.key, optional: r.optional === true })
  }
  for (const c of containersOf(t.spec)) {
    for (const e of (c.env ?? []) as Doc[]) {
      add('Secret', get<KeyRef>(e, 'valueFrom', 'secretKeyRef'))
      add('ConfigMap', get<KeyRef>(e, 'valueFrom', 'configMapKeyRef'))
    }
  }
  for (const v of (t.spec.volumes ?? []) as Doc[]) {
    const secret = v.secret as Doc | undefined
    const cm = v.configMap as Doc | undefined
    const source = secret !== undefined ? { kind: 'Secret' as const, name: String(secret.secretName), d: secret } : cm !== undefined ? { kind: 'ConfigMap' as const, name: String(cm.name), d: cm } : undefined
    if (source === undefined) continue
    const items = (source.d.items ?? []) as Array<{ key: string }>
    const optional = source.d.optional === true
    if (items.length === 0) out.push({ kind: source.kind, name: source.name, optional })
    for (const i of items) out.push({ kind: source.kind, name: source.name, key: i.key, optional })
  }
  return out
}

/** References to a Secret or ConfigMap neither the set creates nor the operator is told to create, or to a key it
 * lacks. An optional reference may name an absent object, but not a key the object it names lacks. */
export function unresolvedReferences (docs: Doc[], operatorSecrets: Map<string, Set<string>>): string[] {
  const keysOf = (kind: string, name: string): Set<string> | undefined => {
    const d = docs.find((x) => x.kind === kind && nameOf(x) === name)
    if (d !== undefined) return new Set(Object.keys({ ...(d.data ?? {}) as Doc, ...(d.stringData ?? {}) as Doc }))
    return kind === 'Secret' ? operatorSecrets.get(name) : undefined
  }
  return [...new Set(podTemplates(docs).flatMap((t) => references(t).flatMap((r) => {
    const keys = keysOf(r.kind, r.name)
    if (keys === undefined) return r.optional ? [] : [`${t.owner}: ${r.kind} ${r.name} does not exist`]
    return r.key === undefined || keys.has(r.key) ? [] : [`${t.owner}: ${r.kind} ${r.name} has no key ${r.key}`]
  })))]
}

function containerPorts (templates: PodTemplate[]): Port[] {
  return templates.flatMap((t) => containersOf(t.spec).flatMap((c) => (c.ports ?? []) as Port[]))
}
const hasPort = (ports: Port[], p: string | number | undefined): boolean =>
  ports.some((c) => typeof p === 'number' ? c.containerPort === p : c.name === p)

/** Selectors that select nothing, and ports that name no port of what they select. */
export function selectorAndPortProblems (docs: Doc[]): string[] {
  const pods = podTemplates(docs)
  const selected = (sel: Record<string, string> | undefined): PodTemplate[] =>
    pods.filter((t) => matches(sel, t.labels))
  const problems: string[] = []
  for (const d of docs.filter((x) => x.kind === 'Deployment')) {
    if (!matches(get(d, 'spec', 'selector', 'matchLabels'), get(d, 'spec', 'template', 'metadata', 'labels') ?? {})) problems.push(`${id(d)}: selector does not match its pod labels`)
  }
  for (const d of docs.filter((x) => x.kind === 'Service')) {
    const targets = selected(get(d, 'spec', 'selector'))
    if (targets.length === 0) problems.push(`${id(d)}: selects no pods`)
    for (const p of get<Port[]>(d, 'spec', 'ports') ?? []) {
      if (!targets.every((t) => hasPort(containerPorts([t]), p.targetPort ?? p.port))) problems.push(`${id(d)}: port ${String(p.targetPort)} is no container port`)
    }
  }
  for (const d of docs.filter((x) => x.kind === 'PodDisruptionBudget' || x.kind === 'NetworkPolicy')) {
    const sel = get<Record<string, string>>(d, 'spec', d.kind === 'NetworkPolicy' ? 'podSelector' : 'selector', 'matchLabels')
    const targets = selected(sel)
    if (targets.length === 0) problems.push(`${id(d)}: selects no pods`)
    const rules = (get<Doc[]>(d, 'spec', 'ingress') ?? []).flatMap((r) => (r.ports ?? []) as Array<{ port?: string | number }>)
    for (const r of rules) if (!hasPort(containerPorts(targets), r.port)) problems.push(`${id(d)}: ingress port ${String(r.port)} is no container port`)
  }
  for (const d of docs.filter((x) => x.kind === 'HorizontalPodAutoscaler')) {
    const ref = get<Doc>(d, 'spec', 'scaleTargetRef') ?? {}
    if (!docs.some((x) => x.kind === ref.kind && nameOf(x) === ref.name)) problems.push(`${id(d)}: scales ${String(ref.kind)}/${String(ref.name)}, which does not exist`)
  }
  for (const d of docs.filter((x) => x.kind === 'ServiceMonitor')) {
    const services = docs.filter((x) => x.kind === 'Service' && matches(get(d, 'spec', 'selector', 'matchLabels'), get(x, 'metadata', 'labels') ?? {}))
    if (services.length === 0) problems.push(`${id(d)}: selects no Service`)
    for (const e of get<Array<{ port: string }>>(d, 'spec', 'endpoints') ?? []) {
      if (!services.every((s) => (get<Port[]>(s, 'spec', 'ports') ?? []).some((p) => p.name === e.port))) problems.push(`${id(d)}: port ${e.port} is no Service port`)
    }
  }
  return problems
}
