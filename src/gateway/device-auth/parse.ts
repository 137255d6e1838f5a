// Validates a raw auth request the way Mender orders its checks (media type → decode → id_data/pubkey →
// signature header → signature) and returns the parts the interceptor needs, or throws a coded error. The body is
// read by Go's rule (auth-body.ts), so what is checked here is exactly what Mender will use.
import type { KeyObject } from 'node:crypto'
import { HttpErrors } from '../../errors.js'
import { readAuthBody } from './auth-body.js'
import { readIdData } from './identity.js'
import { deviceKeyType, parsePublicKey, spkiDer, spkiPem, type DeviceKeyType } from './keys.js'
import { verifyBodySignature } from './signature.js'

export interface AuthRequest {
  identity: Record<string, unknown>
  key: KeyObject
  keyType: DeviceKeyType
  spki: Buffer
  /** Canonical SPKI PEM re-encoded from the parsed key (never the device's text). */
  pubkeyPem: string
  tenantToken: string | undefined
}

const JSON_TYPE = /^application\/json\s*(;|$)/i

function readKey (pubkey: string): KeyObject {
  if (pubkey === '') throw new HttpErrors.AUTH_BAD_PUBKEY()
  try {
    return parsePublicKey(pubkey)
  } catch (err) {
    throw new HttpErrors.AUTH_BAD_PUBKEY({ cause: err })
  }
}

export function parseAuthRequest (
  body: Buffer, contentType: string | undefined, signature: string | undefined
): AuthRequest {
  if (contentType === undefined || !JSON_TYPE.test(contentType)) throw new HttpErrors.UNSUPPORTED_MEDIA_TYPE()
  const fields = readAuthBody(body)
  if (fields.id_data === '') throw new HttpErrors.AUTH_BAD_ID_DATA()
  const identity = readIdData(fields.id_data)
  const key = readKey(fields.pubkey)
  const keyType = deviceKeyType(key)
  if (keyType === undefined) throw new HttpErrors.AUTH_UNSUPPORTED_KEY()
  if (signature === undefined || signature === '') throw new HttpErrors.AUTH_MISSING_SIGNATURE()
  if (!verifyBodySignature(body, signature, key)) throw new HttpErrors.AUTH_BAD_SIGNATURE()
  return {
    identity,
    key,
    keyType,
    spki: spkiDer(key),
    pubkeyPem: spkiPem(key),
    tenantToken: fields.tenant_token !== '' ? fields.tenant_token : undefined
  }
}
