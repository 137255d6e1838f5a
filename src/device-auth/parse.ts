// Validates a raw auth request the way Mender orders its checks (media type → decode → id_data/pubkey →
// signature header → signature) and returns the parts the interceptor needs, or throws a coded error.
import type { KeyObject } from 'node:crypto'
import { HttpErrors } from '../errors.js'
import { parseIdData } from './identity.js'
import { deviceKeyType, parsePublicKey, spkiDer, type DeviceKeyType } from './keys.js'
import { verifyBodySignature } from './signature.js'

export interface AuthRequest {
  identity: Record<string, unknown>
  key: KeyObject
  keyType: DeviceKeyType
  spki: Buffer
  pubkeyPem: string
  tenantToken: string | undefined
}

const JSON_TYPE = /^application\/json\s*(;|$)/i

export function parseAuthRequest (body: Buffer, contentType: string | undefined, signature: string | undefined): AuthRequest {
  if (contentType === undefined || !JSON_TYPE.test(contentType)) throw new HttpErrors.UNSUPPORTED_MEDIA_TYPE()
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new HttpErrors.AUTH_MALFORMED({ cause: err })
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new HttpErrors.AUTH_MALFORMED()
  const { id_data: idData, pubkey, tenant_token: tenantToken } = doc as Record<string, unknown>
  const identity = parseIdData(idData)
  if (identity === undefined) throw new HttpErrors.AUTH_BAD_ID_DATA()
  if (typeof pubkey !== 'string') throw new HttpErrors.AUTH_BAD_PUBKEY()
  let key: KeyObject
  try {
    key = parsePublicKey(pubkey)
  } catch (err) {
    throw new HttpErrors.AUTH_BAD_PUBKEY({ cause: err })
  }
  const keyType = deviceKeyType(key)
  if (keyType === undefined) throw new HttpErrors.AUTH_UNSUPPORTED_KEY()
  if (signature === undefined || signature === '') throw new HttpErrors.AUTH_MISSING_SIGNATURE()
  if (!verifyBodySignature(body, signature, key)) throw new HttpErrors.AUTH_BAD_SIGNATURE()
  return {
    identity,
    key,
    keyType,
    spki: spkiDer(key),
    pubkeyPem: pubkey,
    tenantToken: typeof tenantToken === 'string' && tenantToken !== '' ? tenantToken : undefined
  }
}
