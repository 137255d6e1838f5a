// The tunnel sidecar example (k8s/overlays/tunnel-sidecar) agrees with the tunnel configurations its pods mount:
// each sidecar's configuration is valid, listens on the ports its container declares and probes, finds its
// certificate files in the Secret mount, and the client's forward tunnel reaches the server's reverse tunnel through
// the Service; each app talks plain TCP to its sidecar over the loopback.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig, loadSettings } from '../../src/config/load.js'
import { parseListen } from '../../src/config/listen.js'
import { containersOf, podTemplates, type PodTemplate } from './support/k8s-checks.js'
import { renders } from './support/k8s-renders.js'
import { at, readRepoFile, type Doc } from './support/repo-files.js'

const docs = renders().find((r) => r.name === 'overlays/tunnel-sidecar')?.docs ?? []
const dir = mkdtempSync(join(tmpdir(), 'k8s-sidecar-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

interface Tunnel { mode: string, listen: string, connect: string, cert: string, key: string, ca: string }
interface Side { pod: PodTemplate, app: Doc, tunnel: Doc, settings: { status_listen: string, tunnels: Tunnel[] } }

const portOf = (listen: string): number | undefined => parseListen(listen)?.port
const containerPort = (c: Doc, name: string): number | undefined =>
  ((c.ports ?? []) as Array<{ name: string, containerPort: number }>).find((p) => p.name === name)?.containerPort

/** The pod of a Deployment, its app and sidecar containers, and the configuration the sidecar is started with. */
function side (name: string): Side {
  const pod = podTemplates(docs).find((t) => t.owner === `Deployment/${name}`) as PodTemplate
  const [app, tunnel] = ['app', 'mtls-tunnel'].map((n) => containersOf(pod.spec).find((c) => c.name === n) as Doc) as [Doc, Doc]
  const args = tunnel.args as string[]
  const file = args[args.indexOf('--config') + 1] ?? ''
  const mount = (tunnel.volumeMounts as Array<{ name: string, mountPath: string }>).find((m) => file.startsWith(m.mountPath + '/'))
  const volume = (pod.spec.volumes as Doc[]).find((v) => v.name === mount?.name) as Doc
  const item = at<Array<{ key: string, path: string }>>(volume, 'configMap.items').find((i) => `${mount?.mountPath ?? ''}/${i.path}` === file)
  const cm = docs.find((d) => d.kind === 'ConfigMap' && at(d, 'metadata').name === at(volume, 'configMap').name) as Doc
  const local = join(dir, `${name}.yaml`)
  writeFileSync(local, at<Record<string, string>>(cm, 'data')[item?.key ?? ''] ?? '')
  loadConfig({ file: local, env: {} }) // the whole configuration builds (throws listing every problem otherwise)
  return { pod, app, tunnel, settings: loadSettings({ file: local, env: {} }) as unknown as Side['settings'] }
}

describe('the tunnel sidecar example', () => {
  const server = side('tunnel-sidecar-server')
  const client = side('tunnel-sidecar-client')
  const [reverse, forward] = [server.settings.tunnels[0] as Tunnel, client.settings.tunnels[0] as Tunnel]

  it('runs a reverse tunnel beside the server app and a forward tunnel beside the client app', () => {
    expect([reverse.mode, forward.mode]).toEqual(['reverse', 'forward'])
  })

  it('each sidecar listens and reports on the ports its container declares and its probes use', () => {
    expect([portOf(reverse.listen), containerPort(server.tunnel, 'mtls')]).toEqual([8443, 8443])
    for (const s of [server, client]) {
      const probes = [s.tunnel.readinessProbe, s.tunnel.livenessProbe].map((p) => at<string>(p, 'httpGet.port'))
      expect([portOf(String(s.settings.status_listen)), probes]).toEqual([containerPort(s.tunnel, 'status'), ['status', 'status']])
    }
  })

  it('each sidecar finds its certificate, key and CA in its read-only Secret mount', () => {
    for (const [s, t] of [[server, reverse], [client, forward]] as const) {
      const mounts = s.tunnel.volumeMounts as Array<{ name: string, mountPath: string, readOnly?: boolean }>
      const mounted = mounts.flatMap((m) => {
        const v = (s.pod.spec.volumes as Doc[]).find((x) => x.name === m.name)
        return ((v?.secret as Doc | undefined)?.items as Array<{ path: string }> | undefined ?? [])
          .map((i) => `${m.mountPath}/${i.path}${m.readOnly === true ? '' : ' (writable)'}`)
      })
      expect(mounted.sort()).toEqual([t.ca, t.cert, t.key].sort())
    }
  })

  it("the forward tunnel's target is the Service in front of the reverse tunnel's port", () => {
    const [host, port] = forward.connect.split(':')
    const service = docs.find((d) => d.kind === 'Service' && at(d, 'metadata').name === host) as Doc
    const p = at<Array<{ port: number, targetPort: string }>>(service, 'spec.ports').find((x) => x.port === Number(port))
    expect([p?.targetPort, at(service, 'spec.selector')]).toEqual(['mtls', { 'app.kubernetes.io/name': 'tunnel-sidecar-server' }])
  })

  it('the certificates its instructions make (extra/sidecar/Makefile) carry the names the tunnels check', () => {
    const howTo = readRepoFile('k8s/overlays/tunnel-sidecar/kustomization.yaml')
    const make = /make -C extra\/sidecar SERVER_NAME=(\S+) CLIENT_NAME=(\S+)/.exec(howTo)
    const allowCn = (server.settings.tunnels[0] as unknown as { allow_cn: string[] }).allow_cn
    expect([make?.[1], make?.[2]]).toEqual([forward.connect.split(':')[0], allowCn[0]])
    expect(allowCn).toHaveLength(1)
  })

  it('the apps talk plain TCP to their sidecar over the loopback only', () => {
    const serverApp = (server.app.command as string[]).join(' ')
    const clientApp = (client.app.command as string[]).join(' ')
    expect([reverse.connect, serverApp, forward.listen, clientApp]).toEqual([
      '127.0.0.1:3000', expect.stringContaining('3000 --bind 127.0.0.1'),
      '127.0.0.1:8080', expect.stringContaining('http://127.0.0.1:8080/')
    ])
  })
})
