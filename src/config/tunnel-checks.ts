// Cross-checks of the `tunnels:` section, beyond its schema: addresses parse and suit the mode, names and listening
// addresses are unique, a reverse tunnel says who may connect, and options of the other mode are not set.
import { isIP } from 'node:net'
import { formatAddress, parseAddress, type Address } from '../net/address.js'
import type { TunnelSettings } from './tunnels.js'

const FORWARD_ONLY = ['server_name', 'server_uri'] as const
const RULES = ['allow_cn', 'allow_ou', 'allow_dns', 'allow_uri', 'allow_ip', 'allow_spki_sha256'] as const

/** A tunnel's listening address, parsed (forward listeners default to loopback). */
export function tunnelListen (t: Pick<TunnelSettings, 'listen' | 'mode'>): ReturnType<typeof parseAddress> {
  return parseAddress(t.listen, { defaultHost: t.mode === 'forward' ? '127.0.0.1' : '0.0.0.0', allowPortZero: true })
}

export function tunnelConnect (t: Pick<TunnelSettings, 'connect'>): ReturnType<typeof parseAddress> {
  return parseAddress(t.connect)
}

function addressProblems (t: TunnelSettings, at: string): { problems: string[], listen?: Address } {
  const problems: string[] = []
  const listen = tunnelListen(t)
  const connect = tunnelConnect(t)
  if (!listen.ok) problems.push(`${at}.listen: ${listen.problem}`)
  else if (t.mode === 'reverse' && listen.value.kind === 'unix') problems.push(`${at}.listen: a reverse tunnel listens with TLS on TCP (or an inherited socket)`)
  if (!connect.ok) problems.push(`${at}.connect: ${connect.problem}`)
  else if (connect.value.kind === 'inherited') problems.push(`${at}.connect: an inherited socket cannot be connected to`)
  else if (t.mode === 'forward' && connect.value.kind !== 'tcp') problems.push(`${at}.connect: a forward tunnel connects to a TLS host:port`)
  if (t.proxy_protocol && (t.mode !== 'reverse' || (connect.ok && connect.value.kind !== 'tcp'))) {
    problems.push(`${at}.proxy_protocol: only a reverse tunnel to a TCP target sends a PROXY header`)
  }
  return listen.ok ? { problems, listen: listen.value } : { problems }
}

function ruleProblems (t: TunnelSettings, at: string): string[] {
  const problems: string[] = []
  const rules = RULES.filter((r) => t[r].length > 0)
  if (t.mode === 'forward') {
    if (rules.length > 0 || t.allow_all) problems.push(`${at}: allow_* rules apply to reverse tunnels (the forward side checks server_name / server_uri)`)
    return problems
  }
  for (const k of FORWARD_ONLY) if (t[k] !== '') problems.push(`${at}.${k}: applies to forward tunnels only`)
  if (rules.length === 0 && !t.allow_all) problems.push(`${at}: say who may connect: at least one allow_* rule, or allow_all: true`)
  if (rules.length > 0 && t.allow_all) problems.push(`${at}: allow_all admits every certificate of the CA; drop it or the allow_* rules`)
  for (const ip of t.allow_ip) if (isIP(ip) === 0) problems.push(`${at}.allow_ip: not an IP address: ${ip}`)
  for (const pin of t.allow_spki_sha256) {
    if (!/^[0-9a-f]{64}$/i.test(pin.replaceAll(':', ''))) problems.push(`${at}.allow_spki_sha256: not a hex SHA-256: ${pin}`)
  }
  return problems
}

/** Every problem of the tunnels section (empty when it is fine). */
export function tunnelProblems (tunnels: readonly TunnelSettings[]): string[] {
  const problems: string[] = []
  const names = new Set<string>()
  const listening = new Map<string, string>()
  for (const [i, t] of tunnels.entries()) {
    const at = `tunnels[${i}] (${t.name})`
    if (names.has(t.name)) problems.push(`${at}: name ${t.name} is used twice`)
    names.add(t.name)
    const a = addressProblems(t, at)
    problems.push(...a.problems, ...ruleProblems(t, at))
    if (a.listen === undefined || (a.listen.kind === 'tcp' && a.listen.port === 0)) continue
    const key = formatAddress(a.listen)
    const owner = listening.get(key)
    if (owner !== undefined) problems.push(`${at}.listen: ${key} is also the address of tunnel ${owner}`)
    listening.set(key, t.name)
  }
  return problems
}
