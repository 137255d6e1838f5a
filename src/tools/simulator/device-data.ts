// What devices report once authenticated: inventory attributes, deployment statuses and logs, and the websocket
// connections they opened. Plain in-memory records for the inspection API.
import type {
  ConnectionRecord, DeploymentLogRecord, DeploymentStatusRecord, InventoryAttribute
} from './types.js'

export class DeviceData {
  private readonly attributes = new Map<string, Map<string, InventoryAttribute>>()
  readonly statuses: DeploymentStatusRecord[] = []
  readonly logs: DeploymentLogRecord[] = []
  readonly connections: ConnectionRecord[] = []

  reset (): void {
    this.attributes.clear()
    this.statuses.length = 0
    this.logs.length = 0
    this.connections.length = 0
  }

  /** PUT semantics: the new list replaces every attribute of the device. */
  replaceAttributes (deviceId: string, list: InventoryAttribute[]): void {
    this.attributes.set(deviceId, new Map(list.map((a) => [a.name, a])))
  }

  /** PATCH semantics: upsert by name. */
  mergeAttributes (deviceId: string, list: InventoryAttribute[]): void {
    const current = this.attributes.get(deviceId) ?? new Map<string, InventoryAttribute>()
    for (const a of list) current.set(a.name, a)
    this.attributes.set(deviceId, current)
  }

  attributesOf (deviceId: string): InventoryAttribute[] {
    return [...(this.attributes.get(deviceId)?.values() ?? [])]
  }

  forgetDevice (deviceId: string): void {
    this.attributes.delete(deviceId)
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Validates an inventory body: an array of {name: string, value, description?: string}. */
export function parseAttributes (value: unknown): InventoryAttribute[] | string {
  if (!Array.isArray(value)) return 'failed to decode request body: expected an array of attributes'
  const out: InventoryAttribute[] = []
  for (const item of value) {
    if (!isObject(item) || typeof item.name !== 'string' || item.name === '' || !('value' in item)) {
      return 'invalid attribute: name and value are required'
    }
    if (item.description !== undefined && typeof item.description !== 'string') {
      return 'invalid attribute: description must be a string'
    }
    const attr: InventoryAttribute = { name: item.name, value: item.value }
    if (typeof item.description === 'string') attr.description = item.description
    out.push(attr)
  }
  return out
}

export const DEPLOYMENT_STATUSES = [
  'installing', 'pause_before_installing', 'downloading', 'pause_before_rebooting', 'rebooting',
  'pause_before_committing', 'success', 'failure', 'already-installed'
] as const

/** Validates a deployment status body ({status, substate?}). */
export function parseDeploymentStatus (value: unknown): { status: string, substate?: string } | string {
  if (!isObject(value)) return 'failed to decode request body: expected an object'
  const { status, substate } = value
  if (typeof status !== 'string' || !(DEPLOYMENT_STATUSES as readonly string[]).includes(status)) {
    return 'invalid status'
  }
  if (substate !== undefined && typeof substate !== 'string') return 'invalid substate'
  return substate === undefined ? { status } : { status, substate }
}

/** Validates a deployment log body ({messages: [...]}). */
export function parseDeploymentLog (value: unknown): unknown[] | string {
  if (!isObject(value) || !Array.isArray(value.messages)) {
    return 'failed to decode request body: expected {"messages": [...]}'
  }
  return value.messages as unknown[]
}
