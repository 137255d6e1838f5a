// Session-ticket keys of every secure context, derived (HKDF-SHA-256) from one process secret, the digest of the
// trust snapshot and the context's scope. Processes holding the same secret that loaded the same files derive the same
// keys (a session resumes on any worker), and keys change with every trust change. The secret is random per process
// unless a cluster's primary shares its own (`shareTicketSecret`); it is never logged.
import { hkdfSync, randomBytes } from 'node:crypto'

/** Length of Node's `ticketKeys`: name (16), HMAC key (16), AES key (16). */
export const TICKET_KEYS_LENGTH = 48

let secret: Buffer = randomBytes(32)

/** A fresh secret for a group of processes that are to accept each other's tickets. */
export function newTicketSecret (): Buffer { return randomBytes(32) }

/** Uses `shared` (at least 32 bytes) from now on: contexts created after this call accept each other's tickets. */
export function shareTicketSecret (shared: Buffer): void {
  if (shared.length < 32) throw new RangeError('ticket secret must be at least 32 bytes')
  secret = Buffer.from(shared)
}

/** The 48 bytes of ticket keys for a context of `scope` ('listener', 'sni:<name>', …) under trust `digest`. */
export function ticketKeysFor (digest: string, scope: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(digest, 'utf8'), `mtls-ticket-keys\0${scope}`,
    TICKET_KEYS_LENGTH))
}
