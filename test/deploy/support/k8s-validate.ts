// Validates Kubernetes manifests offline with kubernetes-models: its generated ajv validators check types, enums,
// formats and required fields; its TypeScript declarations (object-literal excess-property checks) find fields the
// API does not define, which the OpenAPI schemas alone would let through.
import { join } from 'node:path'
import ts from 'typescript'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { REPO, type Doc, type Manifest } from './repo-files.js'

interface Model { validate: () => void }
interface Kind { create: (doc: Doc) => Model, module: string, type: string }

const KINDS: Record<string, Kind> = {
  'apps/v1 Deployment': { create: (d) => new Deployment(d), module: 'apps/v1/Deployment', type: 'IDeployment' },
  'autoscaling/v2 HorizontalPodAutoscaler': { create: (d) => new HorizontalPodAutoscaler(d), module: 'autoscaling/v2/HorizontalPodAutoscaler', type: 'IHorizontalPodAutoscaler' },
  'policy/v1 PodDisruptionBudget': { create: (d) => new PodDisruptionBudget(d), module: 'policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'v1 ConfigMap': { create: (d) => new ConfigMap(d), module: 'v1/ConfigMap', type: 'IConfigMap' },
  'v1 Secret': { create: (d) => new Secret(d), module: 'v1/Secret', type: 'ISecret' },
  'v1 Service': { create: (d) => new Service(d), module: 'v1/Service', type: 'IService' }
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
    return [`import type { ${kind.type} as T${i} } from 'kubernetes-models/${kind.module}'`,
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
