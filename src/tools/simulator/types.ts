// Public types of the Mender simulator: options, the handle returned by startSimulator, and the views its
// inspection API exposes (in process and as JSON under /__sim).
import type { FaultConfig, FaultControls, FaultGroup } from './faults.js'

export type { FaultConfig, FaultControls, FaultGroup }

export interface SimulatorUser {
  email: string
  password: string
  /** Tenant id of the user (multi-tenant mode); management calls are scoped to it. */
  tenant?: string
}

export interface SimulatorOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string
  /** Listen port; default 0 (any free port). */
  port?: number
  /** Serve HTTPS with these PEM strings. */
  tls?: { cert: string, key: string }
  /** Management users; default one user: mtls@example.com / correcthorsebatterystaple. */
  users?: SimulatorUser[]
  /** Tenant tokens map to tenants and JWTs carry `mender.tenant`. */
  multiTenant?: boolean
  /** tenant_token -> tenant id (multi-tenant mode). */
  tenantTokens?: Record<string, string>
  /** Lifetime of user JWTs issued by login; default 604800. */
  userTokenLifetimeSec?: number
  /** Lifetime of device JWTs; default 604800. */
  deviceTokenLifetimeSec?: number
  /** Fastify request logging; default off. */
  logger?: boolean
  /** How many of the latest requests the request log keeps (older ones are dropped); default 1000. */
  requestLog?: number
}

export type AuthSetStatus = 'pending' | 'accepted' | 'rejected' | 'preauthorized'
export type DeviceStatus = AuthSetStatus | 'noauth'

export interface AuthSetView {
  id: string
  status: AuthSetStatus
  /** Normalised SPKI PEM of the key. */
  pubkey: string
  ts: string
}

export interface InventoryAttribute {
  name: string
  value: unknown
  description?: string
}

export interface DeviceView {
  id: string
  /** '' when the simulator is not multi-tenant. */
  tenant: string
  identity: Record<string, unknown>
  status: DeviceStatus
  createdTs: string
  updatedTs: string
  checkInTime?: string
  authSets: AuthSetView[]
  attributes: InventoryAttribute[]
}

/** One request as the simulator received it (inspection routes under /__sim are not recorded). */
export interface RecordedRequest {
  seq: number
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  bodyBytes: Buffer
  /** The fault/route group the request fell into ('other' for unknown routes). */
  group: FaultGroup | 'other'
  /** The status answered, once answered (0: the connection went away first). */
  status?: number
}

export interface ConnectionRecord {
  id: string
  deviceId: string
  tenant: string
  url: string
  headers: Record<string, string | string[] | undefined>
  hadAuthorization: boolean
  /** Negotiated subprotocol ('' when none was offered). */
  protocol: string
  openedAt: string
  closedAt?: string
  /** The close code the device side's peer (here: the gateway) sent, when the socket closed with a close frame. */
  closeCode?: number
  messages: number
}

export interface DeploymentStatusRecord {
  deviceId: string
  deploymentId: string
  status: string
  substate?: string
  at: string
}

export interface DeploymentLogRecord {
  deviceId: string
  deploymentId: string
  messages: unknown[]
  at: string
}

export type RequestCounts = Record<FaultGroup, number>

export interface IssuedCounts { userTokens: number, deviceTokens: number, personalAccessTokens: number }

/** What GET /__sim/state answers (and sim.state.snapshot() returns). */
export interface SimulatorSnapshot {
  devices: DeviceView[]
  connections: ConnectionRecord[]
  deploymentStatuses: DeploymentStatusRecord[]
  deploymentLogs: DeploymentLogRecord[]
  counts: RequestCounts
  issued: IssuedCounts
  faults: FaultConfig
  requests: number
}

/** In-process view of the simulator's state. */
export interface SimulatorState {
  /** Devices, oldest first; only those of `tenant` when given. */
  devices: (tenant?: string) => DeviceView[]
  device: (id: string) => DeviceView | undefined
  deviceByIdentity: (identity: Record<string, unknown>, tenant?: string) => DeviceView | undefined
  connections: () => ConnectionRecord[]
  deploymentStatuses: () => DeploymentStatusRecord[]
  deploymentLogs: () => DeploymentLogRecord[]
  issued: () => IssuedCounts
  /** Same effect as the management PUT .../auth/{aid}/status; false when the device or auth set is unknown. */
  setAuthSetStatus: (deviceId: string, authSetId: string, status: 'accepted' | 'rejected' | 'pending') => boolean
  snapshot: () => SimulatorSnapshot
}

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:34567 (no trailing slash). */
  url: string
  port: number
  state: SimulatorState
  /** The latest requests received (at most `requestLog`, oldest first; live array; reset() empties it in place). */
  requests: RecordedRequest[]
  /** Requests received per route group (faulted ones included). */
  counts: RequestCounts
  /** The most requests of each group in progress at once since the last reset. */
  peaks: RequestCounts
  faults: FaultControls
  /** Forgets devices, tokens, requests, counts, connections (closing open websockets) and faults; users stay. */
  reset: () => void
  close: () => Promise<void>
}
