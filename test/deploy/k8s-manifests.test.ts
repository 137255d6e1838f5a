// Every Kubernetes manifest in k8s/ is valid against the Kubernetes API schemas (offline, kubernetes-models), uses
// no field the API does not define, and kustomization.yaml ties exactly the intended files together.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { schemaErrors, unknownFieldErrors } from './support/k8s-validate.js'
import { at, K8S_DIR, k8sFiles, k8sManifests, kustomization, parseManifests, type Doc } from './support/repo-files.js'

/** Files applied on their own, next to the kustomization (see their header comments). */
const OPTIONAL = ['secrets.example.yaml', 'service.minikube.yaml']
const manifests = k8sManifests()

function deploymentWith (change: (d: Doc) => void): Doc {
  const d = structuredClone(manifests.find((m) => m.doc.kind === 'Deployment')?.doc) as Doc
  change(d)
  return d
}

describe('Kubernetes manifests', () => {
  it.each(manifests.map((m) => [`${m.file}#${m.index} (${String(m.doc.kind)})`, m.doc] as const))(
    '%s is valid against the Kubernetes API schema', (_name, doc) => {
      expect(schemaErrors(doc)).toEqual([])
    })

  it('use only fields the Kubernetes API defines', () => {
    expect(unknownFieldErrors(manifests)).toEqual([])
  })

  it('the schema check rejects a wrongly typed field', () => {
    const bad = deploymentWith((d) => { at(d, 'spec.template.spec.containers.0.ports.0').containerPort = 'eighty' })
    expect(schemaErrors(bad).join()).toMatch(/containerPort must be integer/)
  })

  it('the field check reports a misspelt field', () => {
    const bad = deploymentWith((d) => { at(d, 'spec.template.spec.containers.0').readinesProbe = {} })
    expect(unknownFieldErrors([{ file: 'bad.yaml', index: 0, doc: bad }]).join()).toMatch(/readinesProbe/)
  })

  it('an unknown kind is reported, not silently accepted', () => {
    expect(schemaErrors({ apiVersion: 'v1', kind: 'Pod' })).toEqual(['no schema for v1 Pod'])
  })

  it('every file in k8s/ holds at least one manifest', () => {
    const counts = Object.fromEntries(k8sFiles().filter((f) => f !== 'kustomization.yaml')
      .map((f) => [f, manifests.filter((m) => m.file === f).length]))
    expect(Object.values(counts).every((n) => n > 0)).toBe(true)
  })

  it('rejects YAML syntax errors instead of reading half a file', () => {
    expect(() => parseManifests('x.yaml', 'a: [1, 2\nb: 3\n')).toThrow(/x\.yaml/)
  })
})

describe('kustomization.yaml', () => {
  const k = kustomization()
  const resources = (k.resources ?? []) as string[]

  it('is a kustomize Kustomization', () => {
    expect([k.apiVersion, k.kind]).toEqual(['kustomize.config.k8s.io/v1beta1', 'Kustomization'])
  })

  it('lists only files that exist in k8s/', () => {
    expect(resources.filter((r) => !existsSync(join(K8S_DIR, r)))).toEqual([])
  })

  it('ties together every manifest file except the optional ones', () => {
    const all = k8sFiles().filter((f) => f !== 'kustomization.yaml')
    expect([...resources].sort()).toEqual(all.filter((f) => !OPTIONAL.includes(f)))
  })

  it('generates the ConfigMap the Deployment reads, with every key it reads', () => {
    const refs = JSON.stringify(manifests.find((m) => m.doc.kind === 'Deployment')?.doc)
      .match(/"configMapKeyRef":\{[^}]*\}/g)?.map((r) => JSON.parse(r.slice('"configMapKeyRef":'.length)) as { name: string, key: string }) ?? []
    const generated = ((k.configMapGenerator ?? []) as Array<{ name: string, literals?: string[] }>)
      .flatMap((g) => (g.literals ?? []).map((l) => `${g.name}/${l.split('=')[0] as string}`))
    expect(refs.length).toBeGreaterThan(0)
    expect(refs.filter((r) => !generated.includes(`${r.name}/${r.key}`))).toEqual([])
  })
})

describe('service.yaml', () => {
  const service = manifests.find((m) => m.file === 'service.yaml')?.doc as Doc
  const annotations = at<Record<string, string>>(service, 'metadata.annotations')
  const ports = at<Array<{ port: number, protocol: string }>>(service, 'spec.ports')

  it('is a TCP pass-through LoadBalancer that keeps client addresses (no TLS termination, no proxy protocol)', () => {
    const terminating = Object.keys(annotations).filter((a) => /ssl-cert|ssl-ports|proxy-protocol/.test(a))
    expect([at(service, 'spec.type'), at(service, 'spec.externalTrafficPolicy'), ports.map((p) => p.protocol), terminating])
      .toEqual(['LoadBalancer', 'Local', ports.map(() => 'TCP'), []])
  })

  it('raises the NLB idle timeout to at least an hour on every listener it exposes (long-lived websockets)', () => {
    const timeouts = ports.map((p) => /tcp\.idle_timeout\.seconds=(\d+)/.exec(annotations[`service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-${p.port}`] ?? '')?.[1])
    expect(timeouts.every((t) => Number(t) >= 3600 && Number(t) <= 6000)).toBe(true)
  })
})
