// Device and auth-set store of the simulator, scoped by tenant: preauthorization (201/409/force), the device
// auth state table of the Mender contract, auth-set status changes and decommissioning. No HTTP here.
import { createHash, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto'
import { goMarshal } from './go-marshal.js'
import type { AuthSetStatus, DeviceStatus } from './types.js'

export interface AuthSetRecord {
  id: string
  deviceId: string
  status: AuthSetStatus
  pubkey: string
  keyDer: Buffer
  ts: string
}

export interface DeviceRecord {
  id: string
  tenant: string
  identity: Record<string, unknown>
  idHash: string
  createdTs: string
  updatedTs: string
  checkInTime?: string
  authSets: AuthSetRecord[]
}

export type PreauthOutcome =
  | { outcome: 'created' | 'forced', device: DeviceRecord }
  | { outcome: 'conflict', device: DeviceRecord }

export type AuthOutcome =
  | { outcome: 'accepted', device: DeviceRecord, authSet: AuthSetRecord }
  | { outcome: 'unauthorized', device: DeviceRecord }

/** Device status from its auth sets: accepted > preauthorized > pending > rejected; none → noauth. */
/** Mender's identity key: SHA-256 of the identity as JsonSort re-encodes it. */
export function identityHash (identity: Record<string, unknown>): string {
  return createHash('sha256').update(goMarshal(identity)).digest('hex')
}

const spkiDer = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' })
const spkiPem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString()
const sameKey = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b)

export function deviceStatus (device: DeviceRecord): DeviceStatus {
  for (const s of ['accepted', 'preauthorized', 'pending', 'rejected'] as const) {
    if (device.authSets.some((a) => a.status === s)) return s
  }
  return 'noauth'
}

export class DeviceStore {
  private readonly devices = new Map<string, DeviceRecord>()
  private readonly byIdentity = new Map<string, string>()

  /** `onRevoke` receives the ids of auth sets whose tokens must stop working. */
  constructor (
    private readonly onRevoke: (authSetIds: string[]) => void = () => {},
    private readonly now: () => Date = () => new Date()
  ) {}

  reset (): void {
    this.devices.clear()
    this.byIdentity.clear()
  }

  list (tenant?: string): DeviceRecord[] {
    const all = [...this.devices.values()]
    return tenant === undefined ? all : all.filter((d) => d.tenant === tenant)
  }

  get (id: string, tenant?: string): DeviceRecord | undefined {
    const d = this.devices.get(id)
    return d !== undefined && (tenant === undefined || d.tenant === tenant) ? d : undefined
  }

  findByIdentity (tenant: string, identity: Record<string, unknown>): DeviceRecord | undefined {
    const id = this.byIdentity.get(`${tenant}\n${identityHash(identity)}`)
    return id === undefined ? undefined : this.devices.get(id)
  }

  /** Preauthorize: conflict on identity alone unless `force`, which upserts (identity, key) as preauthorized. */
  preauthorize (tenant: string, identity: Record<string, unknown>, key: KeyObject, force: boolean): PreauthOutcome {
    const existing = this.findByIdentity(tenant, identity)
    if (existing === undefined) {
      const device = this.createDevice(tenant, identity)
      this.addAuthSet(device, key, 'preauthorized')
      return { outcome: 'created', device }
    }
    if (!force) return { outcome: 'conflict', device: existing }
    const set = this.authSetByKey(existing, key)
    if (set === undefined) this.addAuthSet(existing, key, 'preauthorized')
    else this.changeStatus(existing, set, 'preauthorized')
    return { outcome: 'forced', device: existing }
  }

  /** The contract's state table for an auth request whose signature already verified. */
  authenticate (tenant: string, identity: Record<string, unknown>, key: KeyObject): AuthOutcome {
    const device = this.findByIdentity(tenant, identity) ?? this.createDevice(tenant, identity)
    const set = this.authSetByKey(device, key)
    if (set === undefined) {
      this.addAuthSet(device, key, 'pending')
      return { outcome: 'unauthorized', device }
    }
    if (set.status === 'preauthorized') this.changeStatus(device, set, 'accepted')
    if (set.status !== 'accepted') return { outcome: 'unauthorized', device }
    device.checkInTime = this.now().toISOString()
    return { outcome: 'accepted', device, authSet: set }
  }

  /** Management status change; false when the device (in `tenant`, if given) or auth set is unknown. */
  setAuthSetStatus (deviceId: string, authSetId: string, status: AuthSetStatus, tenant?: string): boolean {
    const device = this.get(deviceId, tenant)
    const set = device?.authSets.find((a) => a.id === authSetId)
    if (device === undefined || set === undefined) return false
    this.changeStatus(device, set, status)
    return true
  }

  deleteDevice (id: string, tenant?: string): boolean {
    const device = this.get(id, tenant)
    if (device === undefined) return false
    this.devices.delete(id)
    this.byIdentity.delete(`${device.tenant}\n${device.idHash}`)
    this.onRevoke(device.authSets.map((a) => a.id))
    return true
  }

  deleteAuthSet (deviceId: string, authSetId: string, tenant?: string): boolean {
    const device = this.get(deviceId, tenant)
    const index = device?.authSets.findIndex((a) => a.id === authSetId) ?? -1
    if (device === undefined || index < 0) return false
    const [removed] = device.authSets.splice(index, 1)
    if (removed?.status === 'preauthorized' && device.authSets.length === 0) return this.deleteDevice(deviceId)
    this.onRevoke([authSetId])
    device.updatedTs = this.now().toISOString()
    return true
  }

  private createDevice (tenant: string, identity: Record<string, unknown>): DeviceRecord {
    const ts = this.now().toISOString()
    const idHash = identityHash(identity)
    const device: DeviceRecord = {
      id: randomUUID(), tenant, identity, idHash, createdTs: ts, updatedTs: ts, authSets: []
    }
    this.devices.set(device.id, device)
    this.byIdentity.set(`${tenant}\n${idHash}`, device.id)
    return device
  }

  private authSetByKey (device: DeviceRecord, key: KeyObject): AuthSetRecord | undefined {
    const der = spkiDer(key)
    return device.authSets.find((a) => sameKey(a.keyDer, der))
  }

  private addAuthSet (device: DeviceRecord, key: KeyObject, status: AuthSetStatus): AuthSetRecord {
    const ts = this.now().toISOString()
    const set: AuthSetRecord = {
      id: randomUUID(), deviceId: device.id, status, pubkey: spkiPem(key), keyDer: spkiDer(key), ts
    }
    device.authSets.push(set)
    device.updatedTs = ts
    return set
  }

  /** Accepting one auth set rejects the device's other accepted sets; leaving `accepted` revokes tokens. */
  private changeStatus (device: DeviceRecord, set: AuthSetRecord, status: AuthSetStatus): void {
    const revoked: string[] = []
    if (status === 'accepted') {
      for (const other of device.authSets) {
        if (other !== set && other.status === 'accepted') {
          other.status = 'rejected'
          revoked.push(other.id)
        }
      }
    }
    if (set.status === 'accepted' && status !== 'accepted') revoked.push(set.id)
    set.status = status
    device.updatedTs = this.now().toISOString()
    if (revoked.length > 0) this.onRevoke(revoked)
  }
}
