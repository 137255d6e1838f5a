// Key pairs for the certificate tooling: generation per key type, import of PEM keys in any common format,
// PKCS#8 PEM export, and the signature algorithm each key type signs certificates and CRLs with.
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { subtle, x509 } from '../../x509/peculiar.js'
import type { KeyType } from './types.js'

export interface KeyPair {
  privateKey: CryptoKey
  publicKey: CryptoKey
  keyType: KeyType
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
const EC = { name: 'ECDSA', namedCurve: 'P-256' }
const EC_P384 = { name: 'ECDSA', namedCurve: 'P-384' }
const ED25519 = { name: 'Ed25519' }
const KEY_TYPES: readonly string[] = ['rsa', 'ec', 'ec-p384', 'ed25519']

/** Import parameters of a key type (WebCrypto). */
function importAlgorithm (keyType: KeyType): Algorithm {
  if (keyType === 'rsa') return RSA
  if (keyType === 'ec-p384') return EC_P384
  return keyType === 'ec' ? EC : ED25519
}

/**
 * How a key of this type signs certificates and CRLs: sha256WithRSAEncryption, ecdsa-with-SHA256 (P-256),
 * ecdsa-with-SHA384 (P-384), pure Ed25519.
 */
export function signingAlgorithm (keyType: KeyType): Algorithm | EcdsaParams {
  if (keyType === 'rsa') return RSA
  if (keyType === 'ec-p384') return { name: 'ECDSA', hash: 'SHA-384' }
  return keyType === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : ED25519
}

export function isKeyType (value: string): value is KeyType {
  return KEY_TYPES.includes(value)
}

/** Generates a new extractable key pair. */
export async function generateKeyPair (keyType: KeyType = 'ec', rsaBits = 2048): Promise<KeyPair> {
  const algorithm = keyType === 'rsa'
    ? { ...RSA, modulusLength: rsaBits, publicExponent: new Uint8Array([1, 0, 1]) }
    : importAlgorithm(keyType)
  const pair = await subtle.generateKey(algorithm, true, ['sign', 'verify']) as CryptoKeyPair
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyType }
}

/** Key type of a Node key object; throws for anything the tooling cannot certify. */
function keyTypeOf (type: string | undefined, curve: string | undefined): KeyType {
  if (type === 'rsa' || type === 'ed25519') return type
  if (type === 'ec' && curve === 'prime256v1') return 'ec'
  if (type === 'ec' && curve === 'secp384r1') return 'ec-p384'
  throw new TypeError(`unsupported key type: ${type ?? 'unknown'}${curve !== undefined ? ` (${curve})` : ''}`)
}

/** Imports a private key PEM (PKCS#8, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) with its public half. */
export async function importPrivateKeyPem (pem: string): Promise<KeyPair> {
  const key = createPrivateKey({ key: pem, format: 'pem' })
  const keyType = keyTypeOf(key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve)
  const algorithm = importAlgorithm(keyType)
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' })
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' })
  const [privateKey, publicKey] = await Promise.all([
    subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
    subtle.importKey('spki', spki, algorithm, true, ['verify'])
  ])
  return { privateKey, publicKey, keyType }
}

/** PKCS#8 PEM of a private key. */
export async function exportPkcs8Pem (privateKey: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', privateKey)
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n'
}

/** SPKI DER bytes of a public key (for comparing a key with a certificate). */
export async function spkiBytes (publicKey: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('spki', publicKey))
}
