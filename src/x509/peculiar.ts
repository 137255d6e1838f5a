// The one place @peculiar/x509 is loaded: reflect-metadata first, then Node's WebCrypto as its provider.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto } from 'node:crypto'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export { x509 }
export const subtle = webcrypto.subtle as unknown as SubtleCrypto
