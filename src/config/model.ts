// The configuration the modes read, built once from the validated settings: a section shared by every mode, the
// HTTP gateway's section (absent when only tunnels are configured) and the tunnels; lists are arrays, addresses are
// parsed, and the whole is deep-frozen.
import { parseListen, type ListenAddress } from './listen.js'
import { COMMON_KEYS, type CommonKey, type Settings } from './schema.js'
import type { TunnelSettings } from './tunnels.js'
import { deepFreeze, type DeepReadonly } from '../lib/deep-freeze.js'
import type { Address, TcpAddress, UnixAddress } from '../net/address.js'
import { tunnelConnect, tunnelListen } from './tunnel-checks.js'

export type { ListenAddress }

type Lists = 'crl_paths' | 'crl_urls' | 'sni' | 'identity_binding_keys'
type Tenant = Settings['tenants'][number]

/** What systemd passed the process: socket activation (LISTEN_*) and the readiness socket (NOTIFY_SOCKET). */
export interface SystemdEnv {
  LISTEN_PID?: string
  LISTEN_FDS?: string
  LISTEN_FDNAMES?: string
  NOTIFY_SOCKET?: string
}

export interface CommonConfig extends Omit<Pick<Settings, CommonKey>, 'status_listen' | 'workers'> {
  /** The plain-HTTP status listener; undefined when `off`. */
  status_listen: ListenAddress | undefined
  /** Worker processes: a count (1 = single process) or `auto` (one per available core). */
  workers: number | 'auto'
  systemd: SystemdEnv
}

export interface GatewayConfig extends Omit<Settings, CommonKey | Lists | 'listen' | 'tunnels' | 'tenants'> {
  listen: ListenAddress
  crl_paths: string[]
  crl_urls: string[]
  sni: string[]
  identity_binding_keys: string[]
  tenants: Tenant[]
}

/** A tunnel with its addresses parsed. */
export interface TunnelConfig extends TunnelSettings {
  listen_address: Address
  connect_address: TcpAddress | UnixAddress
}

export interface MutableConfig {
  common: CommonConfig
  /** Undefined when the gateway is not configured (no `mender_backend`, but tunnels). */
  gateway: GatewayConfig | undefined
  tunnels: TunnelConfig[]
}

export type Config = DeepReadonly<MutableConfig>

/** Items of a comma-separated list, trimmed, without empty ones. */
export const splitList = (text: string): string[] => text.split(',').map((s) => s.trim()).filter((s) => s !== '')

/** Whether the settings configure the HTTP gateway: a Mender backend is set, or there is nothing else to run. */
export const gatewayConfigured = (s: Pick<Settings, 'mender_backend' | 'tunnels'>): boolean =>
  s.mender_backend !== '' || s.tunnels.length === 0

function gatewaySection (s: Settings): GatewayConfig {
  const rest: Record<string, unknown> = { ...s }
  for (const k of [...COMMON_KEYS, 'tunnels']) delete rest[k]
  return {
    ...(rest as Omit<GatewayConfig, 'listen' | Lists>),
    // validated before: a bad address never gets here
    listen: parseListen(s.listen) as ListenAddress,
    crl_paths: splitList(s.crl_paths),
    crl_urls: splitList(s.crl_urls),
    sni: splitList(s.sni),
    identity_binding_keys: splitList(s.identity_binding_keys),
    tenants: s.tenants.map((t) => ({ ...t, sni: [...t.sni] }))
  }
}

const SYSTEMD_KEYS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET'] as const

/** The sectioned, deep-frozen configuration of validated settings (and of what systemd passed in `env`). */
export function buildConfig (s: Settings, env: Record<string, string | undefined> = {}): Config {
  const systemd: SystemdEnv = {}
  for (const k of SYSTEMD_KEYS) if (env[k] !== undefined) systemd[k] = env[k]
  const common: CommonConfig = {
    systemd,
    status_listen: s.status_listen === 'off' ? undefined : parseListen(s.status_listen),
    debug_log: s.debug_log,
    log_level: s.log_level,
    reload_watch: s.reload_watch,
    reload_retry_interval: s.reload_retry_interval,
    shutdown_timeout: s.shutdown_timeout,
    workers: s.workers === 'auto' ? 'auto' : Number(s.workers)
  }
  // validated before: every address parses and a connect address is never an inherited socket
  const tunnels = s.tunnels.map((t): TunnelConfig => ({
    ...(structuredClone(t) as TunnelSettings),
    listen_address: (tunnelListen(t) as { value: Address }).value,
    connect_address: (tunnelConnect(t) as { value: TcpAddress | UnixAddress }).value
  }))
  return deepFreeze({ common, gateway: gatewayConfigured(s) ? gatewaySection(s) : undefined, tunnels })
}
