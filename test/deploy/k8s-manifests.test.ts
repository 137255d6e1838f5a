// Every way k8s/ is applied (the base, each overlay, the components on an overlay) renders, and what it renders is
// valid against the Kubernetes API schemas (offline, kubernetes-models), uses no field the API does not define, and
// holds together: references resolve, selectors select, ports exist. The kustomize renderer used here is checked
// against `kubectl kustomize` where kubectl is installed; the top-level compatibility files against the migration
// overlay; the migration overlay against the original guide's Secret and Service names.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultOf } from './support/deploy-config.js'
import { selectorAndPortProblems, unresolvedReferences } from './support/k8s-checks.js'
import { compatDocs } from './support/k8s-compat.js'
import { renderTargets, renders, documentedSecrets, readmeDeployment, secretsCreatedBy } from './support/k8s-renders.js'
import { schemaErrors, unknownFieldErrors } from './support/k8s-validate.js'
import { applyOperation, configMapHash, renderKustomization } from './support/kustomize.js'
import { at, isKustomizationFile, K8S_DIR, k8sFiles, k8sManifests, parseManifests, readRepoFile, type Doc } from './support/repo-files.js'

const all = renders()
const rendered = (name: string): Doc[] => all.find((r) => r.name === name)?.docs ?? []
const named = (docs: Doc[], kind: string, name: string): Doc => {
  const d = docs.find((x) => x.kind === kind && at(x, 'metadata').name === name)
  if (d === undefined) throw new Error(`no ${kind}/${name}`)
  return d
}
/** Whether a kubectl with kustomize 5 (the version the renderer follows) is installed. */
const kubectl = ((): boolean => {
  try {
    const out = execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] })
    return /Kustomize Version: v([5-9]|\d{2,})\./.test(out)
  } catch { return false }
})()

function deploymentWith (change: (d: Doc) => void): Doc {
  const d = structuredClone(named(rendered('base'), 'Deployment', 'mtls-ambassador'))
  change(d)
  return d
}

describe.each(all.map((r) => [r.name, r] as const))('%s', (_name, r) => {
  it('renders to objects that are valid against the Kubernetes API schema', () => {
    expect(r.docs.length).toBeGreaterThan(2)
    expect(r.docs.flatMap((d) => schemaErrors(d).map((e) => `${String(d.kind)}: ${e}`))).toEqual([])
  })

  it('uses only fields the Kubernetes API defines', () => {
    expect(unknownFieldErrors(r.docs.map((doc, index) => ({ file: r.name, index, doc })))).toEqual([])
  })

  it('reads only Secrets and ConfigMaps it creates or the documentation has operators create, with their keys', () => {
    expect(unresolvedReferences(r.docs, documentedSecrets())).toEqual([])
  })

  it('selects what it means to select, on ports that exist', () => {
    expect(selectorAndPortProblems(r.docs)).toEqual([])
  })

  it('needs no Kubernetes newer than the documented minimum (no preStop sleep action, 1.30)', () => {
    expect(JSON.stringify(r.docs)).not.toMatch(/"preStop":\{"sleep"/)
  })

  it.skipIf(!kubectl)('renders exactly as kubectl kustomize does', () => {
    const out = execFileSync('kubectl', ['kustomize', r.dir], { encoding: 'utf8', timeout: 60_000 })
    expect(JSON.parse(JSON.stringify(r.docs))).toEqual(parseManifests('kubectl', out).map((m) => m.doc))
  })
})

describe('load balancers', () => {
  const services = all.flatMap((r) => r.docs.filter((d) => d.kind === 'Service').map((s) => ({ render: r.name, s })))

  it('no Service asks a load balancer to terminate TLS or to add a PROXY protocol header', () => {
    const annotations = services.flatMap(({ render, s }) => Object.keys((at<Doc>(s, 'metadata').annotations ?? {}) as Doc)
      .filter((a) => /ssl-cert|ssl-ports|proxy-protocol|backend-protocol/.test(a)).map((a) => `${render}: ${a}`))
    expect(annotations).toEqual([])
  })

  it('every LoadBalancer and NodePort Service passes TCP through and keeps client addresses (externalTrafficPolicy Local)', () => {
    const external = services.filter(({ s }) => ['LoadBalancer', 'NodePort'].includes(String(at(s, 'spec').type)))
    expect(external.length).toBeGreaterThan(5)
    expect(external.filter(({ s }) => at(s, 'spec').externalTrafficPolicy !== 'Local' ||
      at<Doc[]>(s, 'spec.ports').some((p) => p.protocol !== 'TCP')).map(({ render }) => render)).toEqual([])
  })

  it('the NLB of overlays/aws-nlb keeps idle device websockets for an hour on every listener', () => {
    const s = named(rendered('overlays/aws-nlb'), 'Service', 'mtls-ambassador')
    const annotations = at<Record<string, string>>(s, 'metadata.annotations')
    const timeouts = at<Array<{ port: number }>>(s, 'spec.ports').map((p) =>
      /tcp\.idle_timeout\.seconds=(\d+)/.exec(annotations[`service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-${p.port}`] ?? '')?.[1])
    expect(timeouts.length).toBeGreaterThan(0)
    expect(timeouts.every((t) => Number(t) >= 3600 && Number(t) <= 6000)).toBe(true)
  })
})

describe('checks and renderer', () => {
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

  it('the reference check reports a Secret nobody creates and a key a Secret lacks', () => {
    const docs = rendered('base').map((d) => d.kind === 'Deployment'
      ? deploymentWith((x) => {
        at(x, 'spec.template.spec.volumes.0.secret').secretName = 'nobody-creates-it'
        at(x, 'spec.template.spec.volumes.1.secret.items.0').key = 'ca.pem'
      })
      : d)
    expect(unresolvedReferences(docs, documentedSecrets())).toEqual([
      'Deployment/mtls-ambassador: Secret nobody-creates-it does not exist',
      'Deployment/mtls-ambassador: Secret mtls-ambassador-tenant-ca has no key ca.pem'
    ])
  })

  it('the selector check reports a Service selecting no pods and a port no container has', () => {
    const docs = structuredClone(rendered('base'))
    const service = named(docs, 'Service', 'mtls-ambassador')
    at(service, 'spec').selector = { app: 'other' }
    at(named(docs, 'NetworkPolicy', 'mtls-ambassador'), 'spec.ingress.0.ports.0').port = 'https'
    expect(selectorAndPortProblems(docs)).toEqual([
      'Service/mtls-ambassador: selects no pods',
      'NetworkPolicy/mtls-ambassador: ingress port https is no container port'
    ])
  })

  it('names generated ConfigMaps with the content hash kustomize gives them', () => {
    // values printed by kustomize v5.5 for these ConfigMaps
    expect([configMapHash({ A: '1' }), configMapHash({ A: '2', B: '3' })]).toEqual(['89g4tffbfk', 'b8kkh428m2'])
  })

  it('a failing JSON 6902 test stops the patch, so an overlay cannot patch the wrong list item', () => {
    const doc = { spec: { env: [{ name: 'A' }] } }
    expect(() => { applyOperation(doc, { op: 'test', path: '/spec/env/0/name', value: 'B' }) }).toThrow(/test \/spec\/env\/0\/name/)
    expect(() => { applyOperation(doc, { op: 'replace', path: '/spec/env/1/name', value: 'B' }) }).toThrow(/\/spec\/env\/1\/name/)
  })

  it('refuses kustomization fields outside the subset it implements', () => {
    expect(() => renderKustomization(join(K8S_DIR, '..', 'test', 'deploy', 'fixtures', 'kustomize-unsupported')))
      .toThrow(/namePrefix/)
  })
})

describe('files under k8s/', () => {
  const listed = renderTargets().map((t) => listedFiles(t.dir))
  const RESOURCES = new Set(listed.flatMap((l) => l.resources))
  const INPUTS = new Set(listed.flatMap((l) => l.inputs))
  // applied without kustomize (the migration guide's files), or documentation only
  const STANDALONE = ['deployment.yaml', 'service.yaml', 'service.minikube.yaml', 'base/secrets.example.yaml']
  const objectFiles = k8sFiles().filter((f) => !isKustomizationFile(f) && !INPUTS.has(f))

  it('every file of API objects is part of a kustomization, or one of the standalone files', () => {
    expect(objectFiles.filter((f) => !RESOURCES.has(f) && !STANDALONE.includes(f))).toEqual([])
  })

  it('every file of API objects holds at least one, each valid against the schema', () => {
    const objects = k8sManifests().filter((m) => !INPUTS.has(m.file))
    expect(new Set(objects.map((m) => m.file))).toEqual(new Set(objectFiles))
    expect(objects.flatMap((m) => schemaErrors(m.doc).map((e) => `${m.file}: ${e}`))).toEqual([])
  })

  it('rejects YAML syntax errors instead of reading half a file', () => {
    expect(() => parseManifests('x.yaml', 'a: [1, 2\nb: 3\n')).toThrow(/x\.yaml/)
  })
})

/** Files (relative to k8s/) a kustomization folder reads as resources and as generator inputs, its bases' and
 * components' included. */
function listedFiles (dir: string): { resources: string[], inputs: string[] } {
  const k = parseManifests('k', readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]?.doc ?? {}
  const rel = (p: string): string => join(dir, p).slice(K8S_DIR.length + 1)
  const entries = [...(k.resources ?? []) as string[], ...(k.components ?? []) as string[]]
  const inputs = ((k.configMapGenerator ?? []) as Array<{ files?: string[] }>).flatMap((g) => g.files ?? []).map(rel)
  const nested = entries.filter((e) => !/\.ya?ml$/.test(e)).map((e) => listedFiles(join(dir, e)))
  return {
    resources: [...entries.filter((e) => /\.ya?ml$/.test(e)).map(rel), ...nested.flatMap((n) => n.resources)],
    inputs: [...inputs, ...nested.flatMap((n) => n.inputs)]
  }
}

describe('migration from the original mtls-ambassador', () => {
  const migration = rendered('overlays/migration')
  // the original guide's Secrets and keys (README, Kubernetes: migrating)
  const ORIGINAL = { 'mender-creds': ['password', 'username'], 'mtls-server-cert': ['server.crt', 'server.key'], 'mtls-tenant-ca-pem': ['tenant.ca.pem'] }
  const refs = (docs: Doc[]): Record<string, string[]> => {
    const out: Record<string, Set<string>> = {}
    const text = JSON.stringify(named(docs, 'Deployment', 'mtls-ambassador'))
    for (const m of text.matchAll(/"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"/g)) (out[m[1] as string] ??= new Set()).add(m[2] as string)
    for (const m of text.matchAll(/"secret":\{"secretName":"([^"]+)"[^}]*"items":(\[[^\]]*\])/g)) {
      const items = JSON.parse(m[2] as string) as Array<{ key: string }>
      for (const i of items) (out[m[1] as string] ??= new Set()).add(i.key)
    }
    return Object.fromEntries(Object.entries(out).sort().map(([k, v]) => [k, [...v].sort()]))
  }

  it("reads exactly the original guide's Secrets and keys", () => {
    expect(refs(migration)).toEqual(ORIGINAL)
  })

  it("the README's migration commands create exactly those Secrets", () => {
    const section = /### Migrating from Mender's mtls-ambassador\n([\s\S]*?)\n### /.exec(readmeDeployment())?.[1] ?? ''
    const created = Object.fromEntries([...secretsCreatedBy(section)].sort().map(([k, v]) => [k, [...v].sort()]))
    expect(created).toEqual(ORIGINAL)
  })

  it("the README's migration commands apply files that exist, with the original guide's names", () => {
    const section = /### Migrating from Mender's mtls-ambassador\n([\s\S]*?)\n### /.exec(readmeDeployment())?.[1] ?? ''
    const applied = [...section.matchAll(/kubectl apply -f (\S+)/g)].map((m) => m[1] as string)
    expect(applied).toEqual(['k8s/deployment.yaml', 'k8s/service.yaml'])
    expect(section).toContain('k8s/service.minikube.yaml')
    expect(applied.every((f) => parseManifests(f, readRepoFile(f)).length > 0)).toBe(true)
  })

  it("exposes the original's Service, mtls-ambassador-service on 8080, to its pods and the original's", () => {
    const s = named(migration, 'Service', 'mtls-ambassador-service')
    const mini = named(rendered('overlays/migration-minikube'), 'Service', 'mtls-ambassador-service')
    const podLabels = at<Record<string, string>>(named(migration, 'Deployment', 'mtls-ambassador'), 'spec.template.metadata.labels')
    expect([at(s, 'spec.type'), at<Doc[]>(s, 'spec.ports').map((p) => p.port), at(s, 'spec.selector'), podLabels.app, at(mini, 'spec.type')])
      .toEqual(['LoadBalancer', [8080], { app: 'mtls-ambassador' }, 'mtls-ambassador', 'NodePort'])
  })

  it("does not reuse the original's Deployment name (its selector differs, and a selector cannot change)", () => {
    expect(migration.filter((d) => d.kind === 'Deployment').map((d) => at(d, 'metadata').name)).not.toContain('mtls-ambassador-deployment')
  })

  it.each(['deployment.yaml', 'service.yaml', 'service.minikube.yaml'])(
    'k8s/%s is the migration overlay rendered (`npm run k8s:compat` writes it)', (file) => {
      expect(parseManifests(file, readRepoFile(`k8s/${file}`)).map((m) => m.doc)).toEqual(compatDocs()[file])
    })

  it('mounts the Secrets at the default certificate paths and maps mender-creds to the Mender login', () => {
    const pod = at<Doc>(named(migration, 'Deployment', 'mtls-ambassador'), 'spec.template.spec')
    const c = at<Doc>(pod, 'containers.0')
    const volumes = at<Doc[]>(pod, 'volumes')
    const itemsOf = (name: string): Array<{ path: string }> =>
      ((volumes.find((v) => v.name === name)?.secret as Doc | undefined)?.items ?? []) as Array<{ path: string }>
    const mounted = at<Array<{ name: string, mountPath: string }>>(c, 'volumeMounts')
      .flatMap((m) => itemsOf(m.name).map((i) => `${m.mountPath}/${i.path}`))
    const env = Object.fromEntries(at<Array<{ name: string, valueFrom?: { secretKeyRef?: { name: string, key: string } } }>>(c, 'env')
      .filter((e) => e.valueFrom?.secretKeyRef !== undefined).map((e) => [e.name, `${e.valueFrom?.secretKeyRef?.name ?? ''}/${e.valueFrom?.secretKeyRef?.key ?? ''}`]))
    expect([mounted.sort(), env]).toEqual([
      (['server_cert', 'server_key', 'tenant_ca_pem'] as const).map((k) => String(defaultOf(k))).sort(),
      { MTLS_MENDER_USER: 'mender-creds/username', MTLS_MENDER_PASS: 'mender-creds/password' }
    ])
  })

  it('the minikube variant differs from the migration overlay in its Service alone', () => {
    const noService = (docs: Doc[]): Doc[] => docs.filter((d) => d.kind !== 'Service')
    expect(noService(rendered('overlays/migration-minikube'))).toEqual(noService(migration))
  })
})
