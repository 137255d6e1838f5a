// Devices for the cold auth-request scenario, made fast enough to use a fresh key per request: a benchmark CA and
// leaf certificates assembled in DER and signed with node:crypto (a few hundred microseconds each, against ~10 ms
// through the PKI tool), written as chain/key files plus the list the wrk shim rotates through, each with its signed
// auth-request body.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { extensionDer, nameDer, tlv } from '../test/support/crafted-cert.js'
import { authRequest } from '../test/support/device.js'

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts)
const ECDSA_SHA256 = seq(tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex')))
const BASIC_CONSTRAINTS = '551d13'
const KEY_USAGE = '551d0f'
const EXT_KEY_USAGE = '551d25'
const CLIENT_AUTH = Buffer.from('2b06010505070302', 'hex')

const utc = (d: Date): Buffer => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'ascii'))
const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`

export interface BenchCa { name: Buffer, key: KeyObject, certPem: string }

/** The content bytes of a positive INTEGER in minimal DER from random bytes: the first byte is 0x01..0x7f. */
export function positiveSerial (random: Buffer): Buffer {
  const out = Buffer.from(random)
  out[0] = 1 + ((out[0] ?? 0) % 0x7f)
  return out
}

function certificate (
  subject: Buffer, issuer: Buffer, publicKey: KeyObject, signer: KeyObject, extensions: Buffer[]
): string {
  const now = Date.now()
  const serial = positiveSerial(randomBytes(12))
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    issuer,
    seq(utc(new Date(now - 3600_000)), utc(new Date(now + 7 * 86400_000))),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions))
  )
  const signature = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' })
  return pem('CERTIFICATE', seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature)))
}

/** A self-signed P-256 CA (CA:TRUE, keyCertSign + cRLSign). */
export function makeBenchCa (cn = 'mtls-ambassador bench CA'): BenchCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const name = nameDer(Buffer.from(cn))
  const exts = [
    extensionDer(BASIC_CONSTRAINTS, seq(tlv(0x01, Buffer.from([0xff]))), true),
    extensionDer(KEY_USAGE, tlv(0x03, Buffer.from([0x01, 0x06])), true)
  ]
  return { name, key: privateKey, certPem: certificate(name, name, publicKey, privateKey, exts) }
}

const made = { count: 0 }
/** A distinct locally administered MAC per device made in this process. */
const macOf = (k: number): string =>
  ['02', ...[k / 2 ** 32, k / 2 ** 24, k / 2 ** 16, k / 2 ** 8, k].map((b) => (Math.floor(b) & 0xff).toString(16).padStart(2, '0'))]
    .join(':')

export interface ColdDevice { chainPath: string, keyPath: string, body: Buffer, headers: Record<string, string> }

/** `n` devices under `ca` (P-256 leaf, digitalSignature, clientAuth), files in `dir`, and the shim's list file. */
export async function coldDevices (
  ca: BenchCa, n: number, dir: string, tag: string
): Promise<{ list: string, devices: ColdDevice[] }> {
  await mkdir(dir, { recursive: true })
  const exts = [
    extensionDer(KEY_USAGE, tlv(0x03, Buffer.from([0x07, 0x80])), true),
    extensionDer(EXT_KEY_USAGE, seq(tlv(0x06, CLIENT_AUTH)))
  ]
  const devices: ColdDevice[] = []
  for (let i = 0; i < n; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const cn = `cold-${tag}-${i}`
    const certPem = certificate(nameDer(Buffer.from(cn)), ca.name, publicKey, ca.key, exts)
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const base = join(dir, cn)
    await writeFile(`${base}.crt`, certPem)
    await writeFile(`${base}.key`, keyPem, { mode: 0o600 })
    const mac = macOf(made.count++)
    const req = authRequest(keyPem, { mac })
    devices.push({ chainPath: `${base}.crt`, keyPath: `${base}.key`, body: req.body, headers: req.headers })
  }
  const list = join(dir, `list-${tag}.txt`)
  await writeFile(list, devices.map((d) => `${d.chainPath} ${d.keyPath}`).join('\n') + '\n')
  return { list, devices }
}
