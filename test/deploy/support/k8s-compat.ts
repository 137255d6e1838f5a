// The compatibility files k8s/deployment.yaml, k8s/service.yaml and k8s/service.minikube.yaml: overlays/migration
// (and overlays/migration-minikube) rendered and split the way the original guide applies them. `npm run k8s:compat`
// writes them; k8s-manifests.test.ts checks the committed files equal this rendering.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { renderKustomization } from './kustomize.js'
import { K8S_DIR, type Doc } from './repo-files.js'

const HEADER = `# Generated from k8s/overlays/migration by \`npm run k8s:compat\` (a test keeps them equal): for the commands of the
# original mtls-ambassador's Kubernetes guide, which create the Secrets mtls-server-cert, mtls-tenant-ca-pem and
# mender-creds and then run \`kubectl apply -f deployment.yaml\` and \`kubectl apply -f service.yaml\` (or
# service.minikube.yaml). README, Kubernetes: migrating from the original.
`
const NOTES: Record<string, string> = {
  'deployment.yaml': '# The ambassador (Deployment, ServiceAccount, autoscaler, disruption budget, NetworkPolicy) and the ConfigMap with\n' +
    '# the Mender server URL: change MTLS_MENDER_BACKEND below when yours is not Hosted Mender (US).\n',
  'service.yaml': '# Service mtls-ambassador-service: a TCP load balancer on port 8080 passing TLS through to the pods.\n',
  'service.minikube.yaml': '# Service mtls-ambassador-service for minikube: port 8080 as a NodePort (`minikube service mtls-ambassador-service --url`).\n'
}

const isService = (d: Doc): boolean => d.kind === 'Service'

/** The objects each compatibility file holds, by file name. */
export function compatDocs (): Record<string, Doc[]> {
  const migration = renderKustomization(join(K8S_DIR, 'overlays', 'migration'))
  const minikube = renderKustomization(join(K8S_DIR, 'overlays', 'migration-minikube'))
  return {
    'deployment.yaml': migration.filter((d) => !isService(d)),
    'service.yaml': migration.filter(isService),
    'service.minikube.yaml': minikube.filter(isService)
  }
}

/** YAML as kubectl reads it (1.1: ambiguous scalars quoted), one document per object. */
export function compatText (file: string, docs: Doc[]): string {
  return HEADER + (NOTES[file] ?? '') + docs.map((d) => stringify(d, { version: '1.1', lineWidth: 0 })).join('---\n')
}

export function writeCompatFiles (): string[] {
  return Object.entries(compatDocs()).map(([file, docs]) => {
    writeFileSync(join(K8S_DIR, file), compatText(file, docs))
    return `k8s/${file}`
  })
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`wrote ${writeCompatFiles().join(', ')}`)
}
