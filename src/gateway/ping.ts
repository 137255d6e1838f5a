// GET /ping on the mTLS port, as the original ambassador answered it: 200 `{"message":"pong"}` for an admitted device.
// Never forwarded to Mender; the request admission (certificate, target, Host) and the access log and metrics of
// every other request apply to it unchanged.
import type { FastifyInstance } from 'fastify'
import { PING_PATH } from './mender/paths.js'

export const PONG = { message: 'pong' } as const

export function registerPing (app: FastifyInstance): void {
  app.get(PING_PATH, async () => PONG)
}
