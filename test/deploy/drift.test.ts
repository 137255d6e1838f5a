// Drift between the deployment artefacts (Dockerfile, docker-compose.yml, k8s/ rendered, README) and the code: every
// env name, port, probe path and certificate path they use must be one the configuration and the listeners accept.
import pino from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { loadSettings } from '../../src/config/load.js'
import { DEMO_SERVER_SAN, demoLayout } from '../../src/tools/pki/demo.js'
import { parseSimulatorArgs } from '../../src/tools/simulator/index.js'
import { buildStatusApp } from '../../src/status/listener.js'
import { ops, parseHealthcheck } from './support/dockerfile.js'
import {
  container, containerEnv, defaultOf, defaultPort, deployment, dockerfileRuntime, ENV_NAMES, EXAMPLE_SECRETS,
  exampleSecrets, podSpec, probedPath, resolvedDeploymentEnv, services, type KeyRef, type Probe
} from './support/deploy-config.js'
import { containersOf, podTemplates } from './support/k8s-checks.js'
import { readmeDeployment, renders } from './support/k8s-renders.js'
import { at, k8sFiles, kustomization, readRepoFile, type Doc } from './support/repo-files.js'

const TLS_KEYS = ['server_cert', 'server_key', 'tenant_ca_pem'] as const
const gatewayRenders = renders().filter((r) => r.name !== 'overlays/tunnel-sidecar')
const ambassador = services['mtls-ambassador'] as Doc
const envOf = (s: Doc): Record<string, string> => (s.environment ?? {}) as Record<string, string>
const probes = (): Record<string, Probe> => ({
  startup: container.startupProbe, liveness: container.livenessProbe, readiness: container.readinessProbe
}) as Record<string, Probe>
const portsByName = (): Record<string, number> => Object.fromEntries(
  (container.ports as Array<{ name: string, containerPort: number }>).map((p) => [p.name, p.containerPort])
)

/** The gateway NetworkPolicy's rules of one render, summarised: ingress port → sources, egress ports. */
function gatewayPolicy (docs: Doc[]): { ingress: Record<string, unknown>, egress: string[] } {
  const policy = docs.find((d) => d.kind === 'NetworkPolicy' && at(d, 'metadata').name === 'mtls-ambassador') as Doc
  const ingress: Record<string, unknown> = {}
  for (const rule of at<Doc[]>(policy, 'spec.ingress')) {
    for (const p of rule.ports as Array<{ port: string }>) ingress[p.port] = rule.from ?? 'anywhere'
  }
  const egress = at<Doc[]>(policy, 'spec.egress').flatMap((r) => (r.ports as Array<{ port: number, protocol: string }>)
    .map((p) => `${r.to === undefined ? 'any' : 'some'}:${p.port}/${p.protocol}`))
  return { ingress, egress }
}

describe('deployment artefacts agree with the configuration', () => {
  it('name only MTLS_* variables the configuration defines', () => {
    const texts = [readRepoFile('Dockerfile'), readRepoFile('docker-compose.yml'), readmeDeployment(), ...k8sFiles().map((f) => readRepoFile(`k8s/${f}`))]
    const named = new Set(texts.flatMap((t) => t.match(/\bMTLS_[A-Z0-9_]+\b/g) ?? []).filter((n) => !/^MTLS_(ERR|WARN)_/.test(n)))
    expect(named.size).toBeGreaterThan(3)
    expect([...named].filter((n) => !ENV_NAMES.has(n))).toEqual([])
  })

  it('the Dockerfile exposes exactly the default listener ports', () => {
    const exposed = ops(dockerfileRuntime, 'EXPOSE').flatMap((i) => i.args.trim().split(/\s+/)).map(Number)
    expect(exposed).toEqual([defaultPort('listen'), defaultPort('status_listen')])
  })

  it('the container ports are the default listener ports, in every overlay, and no overlay moves the listeners', () => {
    const gateways = gatewayRenders.flatMap((r) => podTemplates(r.docs)).map((t) => containersOf(t.spec)[0] as Doc)
    const ports = gateways.map((c) => Object.fromEntries((c.ports as Array<{ name: string, containerPort: number }>)
      .map((p) => [p.name, p.containerPort])))
    const moved = gateways.flatMap((c) => (c.env as Array<{ name: string }>).map((e) => e.name))
      .filter((n) => n === 'MTLS_LISTEN' || n === 'MTLS_STATUS_LISTEN')
    expect(gateways.length).toBe(gatewayRenders.length)
    expect([new Set(ports.map((p) => JSON.stringify(p))), moved])
      .toEqual([new Set([JSON.stringify({ mtls: defaultPort('listen'), status: defaultPort('status_listen') })]), []])
  })

  it('every gateway Service of every overlay forwards to the mTLS listener port, the metrics Service to the status port', () => {
    const targets = gatewayRenders.flatMap((r) => r.docs.filter((d) => d.kind === 'Service').flatMap((s) =>
      at<Array<{ targetPort: string | number }>>(s, 'spec.ports').map((p) => [
        at<Record<string, string>>(s, 'metadata.labels')['app.kubernetes.io/component'],
        typeof p.targetPort === 'number' ? p.targetPort : portsByName()[p.targetPort]
      ])))
    expect(new Set(targets.map((t) => t.join(':')))).toEqual(new Set([`gateway:${defaultPort('listen')}`, `metrics:${defaultPort('status_listen')}`]))
  })

  it('compose publishes the default listener ports of the ambassador', () => {
    const published = (ambassador.ports as string[]).map((p) => Number(p.split(':').at(-1)))
    expect(published).toEqual([defaultPort('listen'), defaultPort('status_listen')])
  })

  it('probes, health checks and the scrape annotation ask for paths the status listener serves', async () => {
    const app = buildStatusApp(pino({ level: 'silent' }), async () => ({ ready: true, checks: {} }), new Registry())
    await app.ready()
    const paths = [
      ...Object.values(probes()).map((p) => p.httpGet?.path),
      at<string>(deployment, 'spec.template.metadata.annotations')['prometheus.io/path' as never],
      probedPath(parseHealthcheck(ops(dockerfileRuntime, 'HEALTHCHECK')[0]?.args ?? '').command),
      probedPath(at<string[]>(ambassador, 'healthcheck.test')),
      ...renders().flatMap((r) => r.docs.filter((d) => d.kind === 'ServiceMonitor'))
        .flatMap((m) => at<Array<{ path: string }>>(m, 'spec.endpoints').map((e) => e.path)),
      ...renders().flatMap((r) => podTemplates(r.docs)).flatMap((t) => containersOf(t.spec))
        .flatMap((c) => [c.readinessProbe, c.livenessProbe, c.startupProbe] as Array<Probe | undefined>)
        .map((p) => p?.httpGet?.path).filter((p) => p !== undefined)
    ]
    const served = paths.filter((p): p is string => p !== undefined && app.hasRoute({ method: 'GET', url: p }))
    await app.close()
    expect(served).toEqual(paths)
  })

  it('probes use the status port: liveness and startup /healthz, readiness /readyz', () => {
    const summary = Object.fromEntries(Object.entries(probes()).map(([k, p]) => [k, `${String(p.httpGet?.port)}${p.httpGet?.path ?? ''}`]))
    expect(summary).toEqual({ startup: 'status/healthz', liveness: 'status/healthz', readiness: 'status/readyz' })
  })

  it('the Deployment mounts the TLS material at the default paths and overrides none of them', () => {
    const volumes = new Map((podSpec.volumes as Array<{ name: string, secret?: { items?: Array<{ path: string }> } }>)
      .map((v) => [v.name, v]))
    const mounted = (container.volumeMounts as Array<{ name: string, mountPath: string, readOnly?: boolean }>)
      .flatMap((m) => (volumes.get(m.name)?.secret?.items ?? []).map((i) => `${m.mountPath}/${i.path}${m.readOnly === true ? '' : ' (writable)'}`))
    const overridden = TLS_KEYS.map((k) => `MTLS_${k.toUpperCase()}`).filter((n) => containerEnv.some((e) => e.name === n))
    expect({ mounted: mounted.sort(), overridden })
      .toEqual({ mounted: TLS_KEYS.map(defaultOf).map(String).sort(), overridden: [] })
  })

  it('every file path the Deployment environment names lies in a read-only mount', () => {
    const mounts = (container.volumeMounts as Array<{ mountPath: string, readOnly?: boolean }>)
      .filter((m) => m.readOnly === true)
    const paths = Object.values(resolvedDeploymentEnv()).flatMap((v) => v.split(',')).filter((v) => v.startsWith('/'))
    expect(paths.length).toBeGreaterThan(0)
    expect(paths.filter((p) => !mounts.some((m) => p === m.mountPath || p.startsWith(m.mountPath + '/')))).toEqual([])
  })

  it('compose installs the demo PKI files at the default paths and mounts them read-only', () => {
    const script = at<string[]>(services.certs, 'command').join('\n')
    const demo = demoLayout('/certs')
    const installs = [[demo.server.cert, 'server_cert'], [demo.server.key, 'server_key'], [demo.tenantCa.cert, 'tenant_ca_pem']] as const
    const missing = installs.filter(([src, key]) => !new RegExp(`install .*${src} ${String(defaultOf(key))}\\n`).test(script + '\n'))
    expect({ missing, mount: ambassador.volumes }).toEqual({ missing: [], mount: ['mtls-certs:/etc/mtls/certs:ro'] })
  })

  it('the Deployment environment makes a valid configuration with the default certificate paths', () => {
    const config = loadSettings({ env: resolvedDeploymentEnv() })
    expect(TLS_KEYS.map((k) => config[k])).toEqual(TLS_KEYS.map(defaultOf))
  })

  it('the compose environment makes a valid configuration for the simulator it starts', async () => {
    const config = loadSettings({ env: envOf(ambassador) })
    const sim = await parseSimulatorArgs(at<string[]>(services['mender-sim'], 'command').slice(1))
    const backend = new URL(config.mender_backend)
    expect([backend.hostname in services, Number(backend.port), sim.host]).toEqual([true, sim.port, '0.0.0.0'])
  })

  it('the demo device reaches the ambassador by a name on the demo server certificate, on the mTLS port', () => {
    const command = at<string[]>(services.device, 'command')
    const url = new URL(command[command.indexOf('--server') + 1] ?? '')
    expect([DEMO_SERVER_SAN.dns.includes(url.hostname), url.hostname in services, Number(url.port)]).toEqual([true, true, defaultPort('listen')])
  })

  it('the demo device presents the demo PKI device certificate and trusts the server CA', () => {
    const command = at<string[]>(services.device, 'command')
    const script = at<string[]>(services.certs, 'command').join('\n')
    const demo = demoLayout('/certs')
    const sourceOf = (flag: string): string | undefined => new RegExp(`install .* (\\S+) ${command[command.indexOf(flag) + 1] ?? '?'}\\n`).exec(script + '\n')?.[1]
    expect(['--ca', '--cert', '--key'].map(sourceOf)).toEqual([demo.server.ca, demo.devices['device-ec'].cert, demo.devices['device-ec'].key])
  })

  it('pods and the compose service get longer to stop than preStop plus the drain deadline', () => {
    const shutdownMs = Number(resolvedDeploymentEnv().MTLS_SHUTDOWN_TIMEOUT ?? defaultOf('shutdown_timeout'))
    const preStop = Number(at<string[]>(container, 'lifecycle.preStop.exec.command')[1])
    const composeGrace = Number(/^(\d+)s$/.exec(String(ambassador.stop_grace_period))?.[1])
    expect([Number(podSpec.terminationGracePeriodSeconds) > preStop + shutdownMs / 1000, composeGrace > Number(defaultOf('shutdown_timeout')) / 1000])
      .toEqual([true, true])
  })

  it('preStop waits with the sleep of the image (a Debian slim base: coreutils), not the 1.30+ sleep action', () => {
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(readRepoFile('Dockerfile'))?.[1] ?? ''
    expect([at(container, 'lifecycle.preStop'), nodeImage]).toEqual([
      { exec: { command: ['/bin/sleep', expect.stringMatching(/^\d+$/)] } }, expect.stringMatching(/^node:\d+(\.\d+){0,2}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/)
    ])
  })

  it("the Deployment runs as the image's user, non-root, read-only, without capabilities, under RuntimeDefault seccomp", () => {
    const user = ops(dockerfileRuntime, 'USER')[0]?.args.trim() ?? ''
    const pod = podSpec.securityContext as Doc
    const c = container.securityContext as Doc
    expect({
      user: `${String(pod.runAsUser)}:${String(pod.runAsGroup)}`,
      nonRoot: [pod.runAsNonRoot, c.runAsNonRoot],
      readOnly: c.readOnlyRootFilesystem,
      escalation: c.allowPrivilegeEscalation,
      caps: c.capabilities,
      seccomp: [pod.seccompProfile, c.seccompProfile]
    }).toEqual({
      user,
      nonRoot: [true, true],
      readOnly: true,
      escalation: false,
      caps: { drop: ['ALL'] },
      seccomp: [{ type: 'RuntimeDefault' }, { type: 'RuntimeDefault' }]
    })
  })

  it.each(gatewayRenders.map((r) => [r.name, r.docs] as const))(
    '%s: NetworkPolicy admits devices from anywhere, the status port from the cluster only, DNS and Mender out',
    (_name, docs) => {
      const backend = new URL(Object.values(at<Record<string, string>>(docs.find((d) => d.kind === 'ConfigMap'), 'data'))[0] ?? '')
      const menderPort = backend.port !== '' ? Number(backend.port) : backend.protocol === 'https:' ? 443 : 80
      expect(gatewayPolicy(docs)).toEqual({
        ingress: { mtls: 'anywhere', status: [{ namespaceSelector: {} }] },
        egress: ['any:53/UDP', 'any:53/TCP', `any:${menderPort}/TCP`]
      })
    })

  it('the Deployment rolls out without taking a pod away first', () => {
    expect(at(deployment, 'spec.strategy')).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
  })

  it('every overlay deploys the package version of the image', () => {
    const version = (JSON.parse(readRepoFile('package.json')) as { version: string }).version
    const images = (kustomization('base').images ?? []) as Array<{ name: string, newTag?: string }>
    const deployed = new Set(renders().flatMap((r) => podTemplates(r.docs).flatMap((t) => containersOf(t.spec)))
      .map((c) => String(c.image)).filter((i) => i.startsWith('mtls-ambassador')))
    expect([images.map((i) => `${i.name}:${i.newTag ?? ''}`), [...deployed]]).toEqual([[`mtls-ambassador:${version}`], [`mtls-ambassador:${version}`]])
  })

  it('the Secrets the Deployment reads are the ones secrets.example.yaml documents', () => {
    const examples = exampleSecrets()
    const exampleText = readRepoFile(EXAMPLE_SECRETS)
    const envRefs = containerEnv.map((e) => e.valueFrom?.secretKeyRef).filter((r): r is KeyRef => r !== undefined)
    const volumeRefs = (podSpec.volumes as Array<{ secret?: { secretName: string, items?: Array<{ key: string }> } }>)
      .flatMap((v) => (v.secret?.items ?? []).map((i) => ({ name: v.secret?.secretName ?? '', key: i.key })))
    const refs: KeyRef[] = [...envRefs, ...volumeRefs]
    // an optional key (the token, instead of user and password) only needs to be named there
    const undocumented = refs.filter((r) => !examples.has(`${r.name}/${r.key}`) && !(r.optional === true && exampleText.includes(r.key)))
    expect(refs.length).toBeGreaterThan(3)
    expect(undocumented).toEqual([])
  })
})
