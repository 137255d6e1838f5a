// Validates Kubernetes manifests offline with kubernetes-models (and its Prometheus Operator CRDs for the
// ServiceMonitor): its generated ajv validators check types, enums, formats and required fields; its TypeScript
// declarations (object-literal excess-property checks) find fields the API does not define, which the OpenAPI schemas
// alone would let through.
import { join } from 'node:path'
import ts from 'typescript'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { REPO, type Doc, type Manifest } from './repo-files.js'

interface Model { validate: () => void }
interface Kind { create: (doc: Doc) => Model, module: string, type: string }

const K = 'kubernetes-models/'
const KINDS: Record<string, Kind> = {
  'apps/v1 Deployment': { create: (d) => new Deployment(d), module: `${K}apps/v1/Deployment`, type: 'IDeployment' },
  'autoscaling/v2 HorizontalPodAutoscaler': { create: (d) => new HorizontalPodAutoscaler(d), module: `${K}autoscaling/v2/HorizontalPodAutoscaler`, type: 'IHorizontalPodAutoscaler' },
  'networking.k8s.io/v1 NetworkPolicy': { create: (d) => new NetworkPolicy(d), module: `${K}networking.k8s.io/v1/NetworkPolicy`, type: 'INetworkPolicy' },
  'policy/v1 PodDisruptionBudget': { create: (d) => new PodDisruptionBudget(d), module: `${K}policy/v1/PodDisruptionBudget`, type: 'IPodDisruptionBudget' },
  'v1 ConfigMap': { create: (d) => new ConfigMap(d), module: `${K}v1/ConfigMap`, type: 'IConfigMap' },
  'v1 Secret': { create: (d) => new Secret(d), module: `${K}v1/Secret`, type: 'ISecret' },
  'v1 Service': { create: (d) => new Service(d), module: `${K}v1/Service`, type: 'IService' },
  'v1 ServiceAccount': { create: (d) => new ServiceAccount(d), module: `${K}v1/ServiceAccount`, type: 'IServiceAccount' },
  'monitoring.coreos.com/v1 ServiceMonitor': {
    create: (d) => new ServiceMonitor(d as never),
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    type: 'IServiceMonitor'
  }
}

function kindOf (doc: Doc): Kind {
  const key = `${String(doc.apiVersion)} ${String(doc.kind)}`
  const kind = KINDS[key]
  if (kind === undefined) throw new Error(`no schema for ${key}`)
  return kind
}

/** Schema violations of one API object (empty when valid); an unknown apiVersion/kind is a violation too. */
export function schemaErrors (doc: Doc): string[] {
  try {
    kindOf(doc).create(doc).validate()
    return []
  } catch (err) {
    return [(err as Error).message]
  }
}

const VIRTUAL = join(REPO, 'test', 'deploy', '__k8s_manifests__.ts')

/** Fields the API types do not define, per manifest (`file#index: message`), found by type-checking the manifests
 * as object literals against kubernetes-models' declarations. */
export function unknownFieldErrors (manifests: Manifest[]): string[] {
  const lines = manifests.flatMap((m, i) => {
    const kind = kindOf(m.doc)
    return [`import type { ${kind.type} as T${i} } from '${kind.module}'`,
      `export const m${i}: T${i} = ${JSON.stringify(m.doc)}`]
  })
  const source = lines.join('\n') + '\n'
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022
  }
  const host = ts.createCompilerHost(options)
  const { getSourceFile, fileExists, readFile } = host
  host.getSourceFile = (name, lang, ...rest) =>
    name === VIRTUAL ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest)
  host.fileExists = (name) => name === VIRTUAL || fileExists.call(host, name)
  host.readFile = (name) => name === VIRTUAL ? source : readFile.call(host, name)
  const program = ts.createProgram({ rootNames: [VIRTUAL], options, host })
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1
    const m = manifests[Math.floor(line / 2)]
    const where = d.file?.fileName === VIRTUAL && m !== undefined ? `${m.file}#${m.index}` : d.file?.fileName ?? 'program'
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`
  })
}
