import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { DeviceStore, deviceStatus, type DeviceRecord } from '../../src/tools/simulator/store.js'

const ec = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
const ID = { mac: '02:00:00:00:00:01' }

describe('simulator device store: state table', () => {
  let store: DeviceStore
  let revoked: string[]
  beforeEach(() => {
    revoked = []
    store = new DeviceStore((ids) => revoked.push(...ids))
  })

  it('creates an unknown identity as a pending device and refuses it', () => {
    const result = store.authenticate('', ID, ec())
    expect([result.outcome, deviceStatus(result.device)]).toEqual(['unauthorized', 'pending'])
  })

  it('accepts a preauthorized identity with the same key on the first request', () => {
    const key = ec()
    store.preauthorize('', ID, key, false)
    const result = store.authenticate('', ID, key)
    expect([result.outcome, deviceStatus(result.device)]).toEqual(['accepted', 'accepted'])
  })

  it('adds a pending auth set when a preauthorized identity presents another key', () => {
    store.preauthorize('', ID, ec(), false)
    const result = store.authenticate('', ID, ec())
    expect([result.outcome, result.device.authSets.map((a) => a.status)])
      .toEqual(['unauthorized', ['preauthorized', 'pending']])
  })

  it('renews the token of an accepted device with the same key', () => {
    const key = ec()
    store.preauthorize('', ID, key, false)
    store.authenticate('', ID, key)
    expect(store.authenticate('', ID, key).outcome).toBe('accepted')
  })

  it('keeps refusing a pending device with the same key', () => {
    const key = ec()
    store.authenticate('', ID, key)
    expect(store.authenticate('', ID, key).outcome).toBe('unauthorized')
  })

  it('refuses a rejected device with the same key', () => {
    const key = ec()
    const { device } = store.authenticate('', ID, key)
    store.setAuthSetStatus(device.id, device.authSets[0]!.id, 'rejected')
    expect(store.authenticate('', ID, key).outcome).toBe('unauthorized')
  })

  it('accepts the new key after a force preauth of an existing device', () => {
    const oldKey = ec()
    const newKey = ec()
    store.preauthorize('', ID, oldKey, false)
    store.authenticate('', ID, oldKey)
    store.preauthorize('', ID, newKey, true)
    expect(store.authenticate('', ID, newKey).outcome).toBe('accepted')
  })

  it('rejects the old accepted key once the force-preauthorized key is accepted', () => {
    const oldKey = ec()
    const newKey = ec()
    store.preauthorize('', ID, oldKey, false)
    const first = store.authenticate('', ID, oldKey) as { authSet: { id: string } }
    store.preauthorize('', ID, newKey, true)
    store.authenticate('', ID, newKey)
    expect([store.authenticate('', ID, oldKey).outcome, revoked]).toEqual(['unauthorized', [first.authSet.id]])
  })
})

describe('simulator device store: preauthorization', () => {
  let store: DeviceStore
  beforeEach(() => { store = new DeviceStore() })

  it('conflicts on identity alone when the key differs', () => {
    store.preauthorize('', ID, ec(), false)
    expect(store.preauthorize('', ID, ec(), false).outcome).toBe('conflict')
  })

  it('changes nothing on conflict', () => {
    const { device } = store.authenticate('', ID, ec())
    const before = JSON.stringify(device.authSets.map((a) => a.status))
    store.preauthorize('', ID, ec(), false)
    expect(JSON.stringify(device.authSets.map((a) => a.status))).toBe(before)
  })

  it('upserts the existing pending auth set as preauthorized with force', () => {
    const key = ec()
    const { device } = store.authenticate('', ID, key)
    store.preauthorize('', ID, key, true)
    expect(device.authSets.map((a) => a.status)).toEqual(['preauthorized'])
  })

  it('re-admits a rejected device with force', () => {
    const key = ec()
    const { device } = store.authenticate('', ID, key)
    store.setAuthSetStatus(device.id, device.authSets[0]!.id, 'rejected')
    store.preauthorize('', ID, key, true)
    expect(store.authenticate('', ID, key).outcome).toBe('accepted')
  })

  it('matches identities whatever the key order of the object', () => {
    const key = ec()
    store.preauthorize('', { b: '2', a: '1' }, key, false)
    expect(store.authenticate('', { a: '1', b: '2' }, key).outcome).toBe('accepted')
  })

  it('matches keys after normalisation (PKCS#1 and SPKI spellings of one RSA key)', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pkcs1 = createPublicKey(publicKey.export({ type: 'pkcs1', format: 'pem' }))
    store.preauthorize('', ID, publicKey, false)
    expect(store.authenticate('', ID, pkcs1).outcome).toBe('accepted')
  })

  it('keeps tenants apart: a preauth in one tenant does not admit the identity in another', () => {
    const key = ec()
    store.preauthorize('tenant-a', ID, key, false)
    expect(store.authenticate('tenant-b', ID, key).outcome).toBe('unauthorized')
  })
})

describe('simulator device store: status and management', () => {
  let store: DeviceStore
  let revoked: string[]
  beforeEach(() => {
    revoked = []
    store = new DeviceStore((ids) => revoked.push(...ids))
  })

  const withStatuses = (...statuses: Array<'pending' | 'accepted' | 'rejected' | 'preauthorized'>): DeviceRecord => ({
    id: 'd',
    tenant: '',
    identity: {},
    idHash: '',
    createdTs: '',
    updatedTs: '',
    authSets: statuses.map((status, i) => ({ id: String(i), deviceId: 'd', status, pubkey: '', keyDer: Buffer.alloc(0), ts: '' }))
  })

  it.each([
    [['rejected', 'pending', 'accepted', 'preauthorized'], 'accepted'],
    [['rejected', 'pending', 'preauthorized'], 'preauthorized'],
    [['rejected', 'pending'], 'pending'],
    [['rejected'], 'rejected'],
    [[], 'noauth']
  ] as const)('derives the device status from auth sets %j → %s', (statuses, expected) => {
    expect(deviceStatus(withStatuses(...statuses))).toBe(expected)
  })

  it('rejects the other accepted auth set when an admin accepts one', () => {
    const a = ec()
    const b = ec()
    store.preauthorize('', ID, a, false)
    const { device } = store.authenticate('', ID, a)
    store.authenticate('', ID, b)
    store.setAuthSetStatus(device.id, device.authSets[1]!.id, 'accepted')
    expect(device.authSets.map((s) => s.status)).toEqual(['rejected', 'accepted'])
  })

  it('revokes the tokens of an auth set that leaves accepted', () => {
    const key = ec()
    store.preauthorize('', ID, key, false)
    const { device } = store.authenticate('', ID, key)
    store.setAuthSetStatus(device.id, device.authSets[0]!.id, 'rejected')
    expect(revoked).toEqual([device.authSets[0]!.id])
  })

  it('forgets the identity of a decommissioned device', () => {
    const key = ec()
    store.preauthorize('', ID, key, false)
    store.deleteDevice(store.findByIdentity('', ID)!.id)
    expect(store.findByIdentity('', ID)).toBeUndefined()
  })

  it('deletes a device whose only preauthorized auth set is removed', () => {
    const { device } = store.preauthorize('', ID, ec(), false)
    store.deleteAuthSet(device.id, device.authSets[0]!.id)
    expect(store.get(device.id)).toBeUndefined()
  })

  it('hides devices of other tenants from a tenant-scoped lookup', () => {
    const { device } = store.preauthorize('tenant-a', ID, ec(), false)
    expect(store.get(device.id, 'tenant-b')).toBeUndefined()
  })
})
