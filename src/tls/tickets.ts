// Session tickets that keep resumption going: every resumed handshake issues a fresh ticket. Node's own ticket
// callback accepts a ticket without asking OpenSSL to renew it, and OpenSSL then sends no NewSessionTicket after a
// resumed TLS 1.3 handshake: a client that resumed once has nothing left to resume with (TLS 1.3 tickets are single
// use), so only every other reconnection resumed. This callback uses the same 48 bytes of keys as `ticketKeys`
// (name, HMAC key, AES key) and answers "renew" for every ticket it can decrypt.
import { randomBytes } from 'node:crypto'
import type { SecureContext, Server } from 'node:tls'

/** The native context behind a SecureContext (Node's ticket key callback hook, as its own test suite uses it). */
interface NativeContext {
  enableTicketKeyCallback?: () => void
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => Array<number | Buffer>
}

// OpenSSL's ticket key callback results
const NO_DECRYPT = 0
const OK = 1
const RENEW = 2

/** Makes `context` issue and accept tickets under `ticketKeys` (48 bytes), renewing each one it accepts. */
export function renewTickets (context: SecureContext, ticketKeys: Buffer): void {
  const native = context.context as NativeContext
  if (typeof native.enableTicketKeyCallback !== 'function') return // another runtime: its own ticket handling stays
  const name = ticketKeys.subarray(0, 16)
  const hmac = ticketKeys.subarray(16, 32)
  const aes = ticketKeys.subarray(32, 48)
  native.enableTicketKeyCallback()
  native.onticketkeycallback = (ticketName, _iv, encrypt) => {
    if (encrypt) return [OK, hmac, aes, name, randomBytes(16)]
    // a ticket of other keys (issued before trust changed) means a full handshake; keys must be returned anyway
    return [ticketName.equals(name) ? RENEW : NO_DECRYPT, hmac, aes]
  }
}

/** The context a TLS server uses for connections without a server name of their own (Node's internal field). */
function listenerContext (server: Server): SecureContext | undefined {
  return (server as unknown as { _sharedCreds?: SecureContext })._sharedCreds
}

/** Makes a listener's current context renew tickets: after creating the server, with the keys it was created with. */
export function renewListenerTickets (server: Server, ticketKeys: Buffer): void {
  const context = listenerContext(server)
  if (context !== undefined) renewTickets(context, ticketKeys)
}

/** Replaces a listener's secure context (new trust, new ticket keys), its tickets renewed like before. */
export function setListenerContext (server: Server, options: Parameters<Server['setSecureContext']>[0] & {
  ticketKeys: Buffer
}): void {
  server.setSecureContext(options)
  renewListenerTickets(server, options.ticketKeys)
}
