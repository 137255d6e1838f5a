// The demo PKI: a root CA, a tenant (intermediate) CA, a server certificate and one device per key type, written
// in the layout the container expects under its certificate folder.
import { join, resolve } from 'node:path'
import { createIntermediateCa, createRootCa, issueDeviceCert, issueServerCert } from './issue.js'
import { existing, writeCertFile, writeKeyFile } from './files.js'
import type { KeyType } from './types.js'

export const DEMO_DEVICES = { 'device-rsa': 'rsa', 'device-ec': 'ec', 'device-ed25519': 'ed25519' } as const
export type DemoDeviceName = keyof typeof DEMO_DEVICES
export const DEMO_SERVER_SAN = { dns: ['localhost', 'mtls-ambassador'], ips: ['127.0.0.1', '::1'] }

export interface CertKeyPaths { cert: string, key: string }

export interface DemoPkiLayout {
  dir: string
  /** False when every file existed and nothing was written. */
  created: boolean
  /** Root CA: signs the server certificate and the tenant CA. */
  rootCa: CertKeyPaths
  /** Server certificate and key; `ca` is what devices trust for the server (the root CA). */
  server: CertKeyPaths & { ca: string }
  /** Tenant CA bundle (root + tenant CA) the gateway verifies devices against; `key` signs more devices. */
  tenantCa: CertKeyPaths
  /** Device certificate chains (device + tenant CA) and keys. */
  devices: Record<DemoDeviceName, CertKeyPaths>
}

/** Paths of the demo PKI under `dir`, without touching the disk. */
export function demoLayout (dir: string): Omit<DemoPkiLayout, 'created'> {
  const root = resolve(dir)
  const devices = Object.fromEntries(Object.keys(DEMO_DEVICES).map((name) => [name, {
    cert: join(root, 'devices', name, 'device.crt'), key: join(root, 'devices', name, 'device.key')
  }])) as Record<DemoDeviceName, CertKeyPaths>
  return {
    dir: root,
    rootCa: { cert: join(root, 'root-ca', 'root.ca.pem'), key: join(root, 'root-ca', 'root.ca.key') },
    server: { cert: join(root, 'server', 'server.crt'), key: join(root, 'server', 'server.key'), ca: join(root, 'server', 'ca.pem') },
    tenantCa: { cert: join(root, 'tenant-ca', 'tenant.ca.pem'), key: join(root, 'tenant-ca', 'tenant.ca.key') },
    devices
  }
}

/** Every file of a layout. */
export function demoFiles (layout: Omit<DemoPkiLayout, 'created'>): string[] {
  const { rootCa, server, tenantCa, devices } = layout
  return [rootCa.cert, rootCa.key, server.cert, server.key, server.ca, tenantCa.cert, tenantCa.key,
    ...Object.values(devices).flatMap((d) => [d.cert, d.key])]
}

/**
 * Writes the demo PKI under `dir`. Idempotent: when every file exists nothing is written (`created: false`);
 * `force` regenerates everything. A partial PKI is refused without `force`, so a CA key is never replaced silently.
 */
export async function writeDemoPki (dir: string, o: { force?: boolean } = {}): Promise<DemoPkiLayout> {
  const layout = demoLayout(dir)
  const files = demoFiles(layout)
  const found = o.force === true ? [] : await existing(files)
  if (found.length === files.length) return { ...layout, created: false }
  if (found.length > 0) {
    throw new Error(`incomplete PKI in ${layout.dir} (${found.length} of ${files.length} files); use --force to regenerate`)
  }
  await generate(layout)
  return { ...layout, created: true }
}

async function generate (layout: Omit<DemoPkiLayout, 'created'>): Promise<void> {
  const root = await createRootCa({ cn: 'mtls-ambassador demo root CA' })
  const [tenant, server] = await Promise.all([
    createIntermediateCa(root, { cn: 'mtls-ambassador demo tenant CA' }),
    issueServerCert(root, { cn: 'mtls-ambassador', ...DEMO_SERVER_SAN })
  ])
  const entries = Object.entries(DEMO_DEVICES) as Array<[DemoDeviceName, KeyType]>
  const devices = await Promise.all(entries.map(async ([name, keyType]) =>
    ({ paths: layout.devices[name], issued: await issueDeviceCert(tenant, { cn: name, keyType }) })))
  await Promise.all([
    writeCertFile(layout.rootCa.cert, root.certPem),
    writeKeyFile(layout.rootCa.key, root.keyPem),
    writeCertFile(layout.server.cert, server.chainPem),
    writeKeyFile(layout.server.key, server.keyPem),
    writeCertFile(layout.server.ca, root.certPem),
    writeCertFile(layout.tenantCa.cert, tenant.bundlePem),
    writeKeyFile(layout.tenantCa.key, tenant.keyPem),
    ...devices.flatMap(({ paths, issued }) => [
      writeCertFile(paths.cert, issued.chainPem), writeKeyFile(paths.key, issued.keyPem)
    ])
  ])
}
