// docker-compose.yml is valid against the Compose Specification's JSON schema (compose-spec.json as shipped by the
// dclint package), with YAML merge keys resolved as compose resolves them; the tunnel demo profiles (dbus, sidecar)
// leave the default gateway demo alone, need only their own services, mount files that exist, and agree with the
// tunnel configurations they mount (loaded with the real loader) on every address, port, socket and name.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import { describe, expect, it } from 'vitest'
import { composeFile, readRepoFile, type Doc } from './support/repo-files.js'
import {
  closure, commandText, composeServices, dependenciesOf, healthPort, hostOf, mountsOf, portOf, profilesOf, repoHas,
  tunnelsOf, volumeOf, type Services
} from './support/compose-services.js'

function composeSchema (): ValidateFunction {
  const dir = dirname(createRequire(import.meta.url).resolve('dclint/package.json'))
  const schema = JSON.parse(readFileSync(join(dir, 'schemas', 'compose.schema.json'), 'utf8')) as Record<string, unknown>
  // draft-07 schema; its $schema URL is spelled differently from ajv's bundled meta-schema id
  return new Ajv({ allErrors: true, strict: false, validateSchema: false }).compile(schema)
}

const validate = composeSchema()
const errors = (doc: Doc): string[] => validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`)

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(errors(composeFile())).toEqual([])
  })

  it('the schema check rejects an unknown service field', () => {
    const bad = composeFile()
    ;(bad.services as Record<string, Doc>)['mtls-ambassador'] = { ...(bad.services as Record<string, Doc>)['mtls-ambassador'], ports_: ['8080'] }
    expect(errors(bad).join()).toMatch(/additional properties/)
  })

  it('the schema check rejects an unknown depends_on condition', () => {
    const bad = composeFile()
    const device = (bad.services as Record<string, Doc>).device as Doc
    device.depends_on = { 'mtls-ambassador': { condition: 'service_ready' } }
    expect(errors(bad).length).toBeGreaterThan(0)
  })

  it('resolves the hardening merge key into every long-running service', () => {
    const services = composeFile().services as Record<string, Doc>
    const hardened = Object.entries(services).filter(([, s]) => s.user === '65534:65534' && s.read_only === true)
    expect(hardened.map(([name]) => name).sort()).toEqual(['dbus-agent', 'dbus-bus', 'dbus-client', 'dbus-controller',
      'device', 'mender-sim', 'mtls-ambassador', 'sidecar-app', 'sidecar-client', 'sidecar-client-proxy', 'sidecar-server'])
  })
})

const services = composeServices()
const inProfile = (p: string): string[] =>
  Object.keys(services).filter((n) => profilesOf(services[n] ?? {}).includes(p)).sort()
const svc = (name: string): Doc => services[name] ?? {}
const DBUS = ['dbus-agent', 'dbus-bus', 'dbus-client', 'dbus-controller', 'tunnel-certs']
const SIDECAR = ['sidecar-app', 'sidecar-client', 'sidecar-client-proxy', 'sidecar-server', 'tunnel-certs']
const TUNNEL_SERVICES = ['dbus-agent', 'dbus-controller', 'sidecar-client-proxy', 'sidecar-server']

/** What the tunnel-certs one-shot issues: the server certificate's SANs, the client CNs, the files it installs. */
function issued (s: Services): { dns: string[], clients: string[], files: string[] } {
  const text = commandText(s['tunnel-certs'] ?? {})
  const dns = (/certs server .*--dns (\S+)/.exec(text)?.[1] ?? '').split(',')
  const clients = (/for client in ([\w -]+); do/.exec(text)?.[1] ?? '').trim().split(/\s+/)
  const literal = [...text.matchAll(/install [^\n]* \/tunnel\/([\w.-]+)(?:\s|$)/g)].map((m) => m[1] ?? '')
  const perClient = clients.flatMap((c) => [`${c}.crt`, `${c}.key`])
  return { dns, clients, files: [...literal, ...perClient] }
}

describe('docker-compose.yml profiles', () => {
  it('keeps the gateway demo as the default: exactly its services have no profile', () => {
    expect(Object.keys(services).filter((n) => profilesOf(svc(n)).length === 0).sort())
      .toEqual(['certs', 'device', 'mender-sim', 'mtls-ambassador'])
  })

  it('puts the D-Bus double proxy in profile dbus and the sidecar pair in profile sidecar', () => {
    expect(inProfile('dbus')).toEqual(DBUS)
    expect(inProfile('sidecar')).toEqual(SIDECAR)
  })

  it('starts a whole demo from its client, and nothing of the gateway demo', () => {
    expect(closure(services, 'dbus-client')).toEqual(DBUS)
    expect(closure(services, 'sidecar-client')).toEqual(SIDECAR)
  })

  it('makes each service depend only on services of its own profiles (the default ones on default ones)', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of dependenciesOf(s)) {
        const mine = profilesOf(s)
        const theirs = profilesOf(svc(dep))
        expect(services[dep], `${name} → ${dep}`).toBeDefined()
        expect(mine.every((p) => theirs.length === 0 || theirs.includes(p)) && (mine.length > 0 || theirs.length === 0), `${name} → ${dep}`).toBe(true)
      }
    }
  })

  it('the profile check fails for a demo service that needs a gateway-demo-only one', () => {
    const bad = composeServices(composeFile())
    ;(bad['dbus-agent'] as Doc).depends_on = { 'mender-sim': { condition: 'service_healthy' } }
    expect(closure(bad, 'dbus-client')).toContain('mender-sim')
  })

  it('bind-mounts and builds from files that exist (./certs aside: `npm run certs` makes it)', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mountsOf(s).filter((x) => x.bind && x.source !== './certs')) expect(repoHas(m.source), `${name}: ${m.source}`).toBe(true)
      const build = s.build as Doc | string | undefined
      const context = typeof build === 'string' ? build : build?.context
      if (context !== undefined) expect(repoHas(String(context)), `${name}: build context ${String(context)}`).toBe(true)
    }
  })

  it('declares every named volume the services mount', () => {
    const declared = Object.keys(composeFile().volumes as Doc)
    for (const [name, s] of Object.entries(services)) {
      for (const m of mountsOf(s).filter((x) => !x.bind)) expect(declared, `${name}: ${m.source}`).toContain(m.source)
    }
  })

  it('mounts the certificates and configurations of the tunnel services read-only', () => {
    for (const name of TUNNEL_SERVICES) {
      for (const m of mountsOf(svc(name)).filter((x) => x.bind || x.source === 'tunnel-certs')) expect(m.readOnly, `${name}: ${m.source}`).toBe(true)
    }
  })
})

describe('docker-compose.yml tunnel services against the configurations they mount', () => {
  const certs = issued(services)
  const run = (name: string): NonNullable<ReturnType<typeof tunnelsOf>> => {
    const t = tunnelsOf(svc(name))
    if (t === undefined) throw new Error(`${name} runs no tunnel configuration`)
    return t
  }
  /** The service whose network namespace `name` lives in (itself unless network_mode says another). */
  const netOwner = (name: string): string => /^service:(.+)$/.exec(String(svc(name).network_mode ?? ''))?.[1] ?? name
  const sharing = (owner: string): string[] => Object.keys(services).filter((n) => netOwner(n) === owner)

  it.each(TUNNEL_SERVICES)('%s: runs one tunnel, and its healthcheck asks that process\'s status port', (name) => {
    const t = run(name)
    expect(t.tunnels).toHaveLength(1)
    expect(healthPort(svc(name))).toBe(t.statusPort)
  })

  it.each(TUNNEL_SERVICES)('%s: reads certificates the tunnel-certs service installs, through its volume', (name) => {
    const [tunnel] = run(name).tunnels
    for (const path of [tunnel?.cert, tunnel?.key, tunnel?.ca].map(String)) {
      expect(volumeOf(svc(name), path), path).toBe('tunnel-certs')
      expect(certs.files, path).toContain(path.slice(path.lastIndexOf('/') + 1))
    }
  })

  it.each(['dbus-agent', 'sidecar-client-proxy'])('%s: connects to a service whose reverse tunnel listens on that port, by a name on its certificate', (name) => {
    const [tunnel] = run(name).tunnels
    const host = hostOf(String(tunnel?.connect))
    const target = sharing(host).map((n) => tunnelsOf(svc(n))?.tunnels[0]).find((t) => t?.mode === 'reverse')
    expect(target, `a reverse tunnel in ${host}'s network`).toBeDefined()
    expect(portOf(String(target?.listen))).toBe(portOf(String(tunnel?.connect)))
    expect(certs.dns).toContain(tunnel?.server_name === '' || tunnel?.server_name === undefined ? host : tunnel.server_name)
    const started = dependenciesOf(svc(name)).flatMap((d) => closure(services, d))
    expect(started).toEqual(expect.arrayContaining(sharing(host)))
  })

  it.each(['dbus-controller', 'sidecar-server'])('%s: admits exactly the client certificate its peer presents', (name) => {
    const [tunnel] = run(name).tunnels
    const peer = name === 'dbus-controller' ? 'dbus-agent' : 'sidecar-client-proxy'
    const peerCert = String(run(peer).tunnels[0]?.cert)
    expect(tunnel?.allow_cn).toEqual([peerCert.slice(peerCert.lastIndexOf('/') + 1, -'.crt'.length)])
    expect(certs.clients).toEqual(expect.arrayContaining([...(tunnel?.allow_cn ?? [])]))
  })

  it('dbus: the controller reaches the bus socket dbus-daemon listens on, through a volume both mount', () => {
    const connect = String(run('dbus-controller').tunnels[0]?.connect)
    expect(connect).toMatch(/^unix:\//)
    const socket = connect.slice('unix:'.length)
    const conf = readRepoFile('extra/compose/dbus-bus.conf')
    expect(conf).toContain(`<listen>unix:path=${socket}</listen>`)
    expect(commandText(svc('dbus-bus'))).toContain('/etc/dbus-demo/bus.conf')
    expect(mountsOf(svc('dbus-bus')))
      .toContainEqual(expect.objectContaining({ source: './extra/compose/dbus-bus.conf', target: '/etc/dbus-demo/bus.conf' }))
    expect(volumeOf(svc('dbus-bus'), socket)).toBeDefined()
    expect(volumeOf(svc('dbus-controller'), socket)).toBe(volumeOf(svc('dbus-bus'), socket))
  })

  it('dbus: the client calls the socket the agent listens on, through a volume both mount', () => {
    const listen = String(run('dbus-agent').tunnels[0]?.listen)
    const socket = listen.slice('unix:'.length)
    expect(commandText(svc('dbus-client'))).toContain(`--bus=unix:path=${socket} `)
    expect(volumeOf(svc('dbus-client'), socket)).toBeDefined()
    expect(volumeOf(svc('dbus-agent'), socket)).toBe(volumeOf(svc('dbus-client'), socket))
  })

  it('dbus: the one-shot hands both socket volumes to the services\' user', () => {
    const oneShot = svc('tunnel-certs')
    for (const vol of ['dbus-bus-socket', 'dbus-agent-socket']) {
      const target = mountsOf(oneShot).find((m) => m.source === vol)?.target ?? 'none'
      expect(commandText(oneShot)).toMatch(new RegExp(`chown 65534:65534 .*${target}`))
    }
  })

  it('sidecar: the server proxy shares the app\'s network and connects to the port the app listens on', () => {
    const connect = String(run('sidecar-server').tunnels[0]?.connect)
    expect(netOwner('sidecar-server')).toBe('sidecar-app')
    expect(hostOf(connect)).toBe('127.0.0.1')
    expect(commandText(svc('sidecar-app'))).toContain(`.listen(${portOf(connect)}, '127.0.0.1')`)
  })

  it('sidecar: the client shares its proxy\'s network and asks the port the proxy listens on', () => {
    const listen = String(run('sidecar-client-proxy').tunnels[0]?.listen)
    expect(netOwner('sidecar-client')).toBe('sidecar-client-proxy')
    expect(commandText(svc('sidecar-client'))).toContain(`fetch('http://${listen}/')`)
  })
})
