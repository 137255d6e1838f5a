// Everything the TLS guard trusts, loaded all-or-nothing: server certificate + key, every tenant's CA bundle (with
// the secure contexts of named tenants), denylist and CRLs. A snapshot is immutable; the reloader swaps snapshots and
// keeps the last good one when loading fails.
import { createHash } from 'node:crypto'
import { createSecureContext, DEFAULT_CIPHERS, type SecureContext } from 'node:tls'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { loadTlsMaterial, type MaterialLabels, type TlsMaterial } from './material.js'
import { loadCrl, loadDenylist, type CrlInfo } from './revocation.js'
import { StartupErrors } from '../errors.js'
import { renewTickets } from './tickets.js'
import { ticketKeysFor } from './ticket-keys.js'
import { contextPlan, loadTenants, type ContextPlan, type TenantSource, type TenantTrust } from './tenants.js'

/**
 * Where a mode's trust comes from (files only; each mode builds it from its own configuration): this node's
 * certificate chain and key, the default CA bundle with its server names and grace window, further tenants' bundles,
 * the serial denylist and CRL files or folders.
 */
export interface TrustSource {
  cert: string
  key: string
  ca: string
  sni: string[]
  graceSeconds: number
  tenants: TenantSource[]
  /** Denylist file ('' = none). */
  denylist: string
  /** CRL files and folders of them. */
  crlPaths: string[]
  minVersion: '1.2' | '1.3'
  /** How problems name cert, key and ca (a listener's names unless told). */
  labels?: MaterialLabels
}

export interface TrustSnapshot {
  material: TlsMaterial
  denylist: Set<string>
  crls: CrlInfo[]
  /** The default tenant first, then the configured ones. */
  tenants: TenantTrust[]
  plan: ContextPlan
  /** Secure contexts of named tenants, by lowercase server name (SNI). */
  contexts: Map<string, SecureContext>
  /** Every file the snapshot was read from (what a reload watches). */
  files: string[]
  /** Hash of every file's bytes: equal digests mean nothing changed. */
  digest: string
  loadedAt: Date
}

/** CRL files of a source: files as given, folders expanded to the regular files inside. */
export function crlFiles (crlPaths: readonly string[]): string[] {
  const out: string[] = []
  for (const entry of crlPaths) {
    if (statSync(entry).isDirectory()) {
      for (const name of readdirSync(entry).sort()) {
        const file = join(entry, name)
        if (!name.startsWith('.') && statSync(file).isFile()) out.push(file)
      }
    } else out.push(entry)
  }
  return out
}

function digestOf (files: string[]): string {
  const h = createHash('sha256')
  for (const f of files) {
    let bytes: Buffer | string
    try {
      bytes = readFileSync(f)
    } catch {
      bytes = 'unreadable' // loading reports the problem with its cause
    }
    h.update(f).update('\0').update(bytes).update('\0')
  }
  return h.digest('hex')
}

/** CRLs held in memory (fetched from distribution points), by URL. */
export type FetchedCrls = ReadonlyMap<string, Buffer>

/** Loads a complete snapshot or throws with every problem found (nothing partial is ever returned). */
export async function loadTrust (source: TrustSource, fetched: FetchedCrls = new Map()): Promise<TrustSnapshot> {
  let crlPaths: string[]
  try {
    crlPaths = crlFiles(source.crlPaths)
  } catch (err) {
    throw new StartupErrors.TLS_MATERIAL(`crl_paths: ${(err as Error).message}`, { cause: err })
  }
  const files = [source.cert, source.key, source.ca, ...source.tenants.map((t) => t.ca),
    ...(source.denylist === '' ? [] : [source.denylist]), ...crlPaths]
  // digest first: a file that changes while we load yields a different digest next time, so it is not missed
  const fetchedDigest = [...fetched].map(([url, bytes]) => `${url}\0${createHash('sha256').update(bytes).digest('hex')}`)
  const digest = createHash('sha256').update(digestOf(files)).update(fetchedDigest.join('\0')).digest('hex')
  const material = loadTlsMaterial(source)
  try {
    const tenants = loadTenants(source, material.ca, material.caCerts)
    const plan = contextPlan(tenants)
    const denylist = source.denylist === '' ? new Set<string>() : loadDenylist(source.denylist)
    const allCas = tenants.flatMap((t) => t.caCerts)
    const crls = [
      ...await Promise.all(crlPaths.map(async (p) => await loadCrl(p, allCas))),
      ...await Promise.all([...fetched].map(async ([url, bytes]) => await loadCrl(url, allCas, bytes)))
    ]
    const contexts = new Map<string, SecureContext>()
    for (const [name, { ca }] of plan.byName) {
      const options = secureContextOptions({ material, digest }, source.minVersion, `sni:${name}`, ca)
      const context = createSecureContext(options)
      // renewing like the listener's own context, whichever of the two a Node version asks for ticket keys
      renewTickets(context, options.ticketKeys)
      contexts.set(name, context)
    }
    return { material, denylist, crls, tenants, plan, contexts, files, digest, loadedAt: new Date() }
  } catch (err) {
    throw new StartupErrors.TLS_MATERIAL((err as Error).message, { cause: err })
  }
}

/**
 * Node's cipher list at OpenSSL security level 1 on every Node version: key sizes in device chains are the device
 * policy's to judge (`device_rsa_min_bits`, refused as MTLS_ERR_TLS_WEAK_KEY). Node 24 defaults to level 2, which
 * refuses RSA keys below 2048 bits anywhere in a chain as an unspecified error, whatever the policy says.
 */
export const LISTENER_CIPHERS = `${DEFAULT_CIPHERS}:@SECLEVEL=1`

/**
 * Options of a secure context of `trust` (used at start and on every reload): the listener's (`scope` names it) or a
 * named tenant's (`sni:<name>`), with session-ticket keys of that trust and scope.
 */
export function secureContextOptions (
  trust: Pick<TrustSnapshot, 'material' | 'digest'>, minVersion: '1.2' | '1.3', scope: string, ca?: string
): {
    cert: string, key: string, ca: string, minVersion: 'TLSv1.2' | 'TLSv1.3', ciphers: string, ticketKeys: Buffer
  } {
  const { material } = trust
  return {
    cert: material.cert,
    key: material.key,
    ca: ca ?? material.ca,
    minVersion: minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ciphers: LISTENER_CIPHERS,
    // new keys whenever trust changes: a session issued under old trust can never be resumed
    ticketKeys: ticketKeysFor(trust.digest, scope)
  }
}
