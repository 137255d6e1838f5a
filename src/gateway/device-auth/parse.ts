// Validates a raw auth request the way Mender orders its checks (media type → decode → id_data/pubkey →
// signature header → signature) and returns the parts the interceptor needs, or throws a coded error. The body is
// read by Go's rule (auth-body.ts), so what is checked here is exactly what Mender will use. Accepted keys are
// cached by their text (parsing one costs more than checking its signature).
import { createHash, type KeyObject } from 'node:crypto'
import { HttpErrors } from '../../errors.js'
import { TtlCache } from '../../lib/ttl-cache.js'
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

type DeviceKey = Pick<AuthRequest, 'key' | 'keyType' | 'spki' | 'pubkeyPem'>

// A device sends the same key text on every auth request: parsing and re-encoding it costs more than the signature
// check, so accepted keys are kept by the SHA-256 of their exact text (a pure function of it; refusals are never
// kept), so that a full cache holds 1024 small entries whatever size of text devices send.
const KEYS = new TtlCache<Readonly<DeviceKey>>(1024, 10 * 60_000)

function readKey (pubkey: string): KeyObject {
  if (pubkey === '') throw new HttpErrors.AUTH_BAD_PUBKEY()
  try {
    return parsePublicKey(pubkey)
  } catch (err) {
    throw new HttpErrors.AUTH_BAD_PUBKEY({ cause: err })
  }
}

/** The parsed device key of `pubkey`, from the cache when this text was accepted before; throws a coded error. */
function deviceKey (pubkey: string): Readonly<DeviceKey> {
  const id = createHash('sha256').update(pubkey).digest('base64')
  const known = KEYS.get(id)
  if (known !== undefined) return known
  const key = readKey(pubkey)
  const keyType = deviceKeyType(key)
  if (keyType === undefined) throw new HttpErrors.AUTH_UNSUPPORTED_KEY()
  const parsed = Object.freeze({ key, keyType, spki: spkiDer(key), pubkeyPem: spkiPem(key) })
  KEYS.set(id, parsed)
  return parsed
}

export function parseAuthRequest (
  body: Buffer, contentType: string | undefined, signature: string | undefined
): AuthRequest {
  if (contentType === undefined || !JSON_TYPE.test(contentType)) throw new HttpErrors.UNSUPPORTED_MEDIA_TYPE()
  const fields = readAuthBody(body)
  if (fields.id_data === '') throw new HttpErrors.AUTH_BAD_ID_DATA()
  const identity = readIdData(fields.id_data)
  const device = deviceKey(fields.pubkey)
  if (signature === undefined || signature === '') throw new HttpErrors.AUTH_MISSING_SIGNATURE()
  if (!verifyBodySignature(body, signature, device.key)) throw new HttpErrors.AUTH_BAD_SIGNATURE()
  return { identity, ...device, tenantToken: fields.tenant_token !== '' ? fields.tenant_token : undefined }
}
