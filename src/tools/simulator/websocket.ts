// deviceconnect websocket: HTTP/1.1 upgrades on /api/devices/v1/deviceconnect/connect authenticated by a device
// JWT (Bearer header or JWT cookie), recorded for inspection, echoing messages; faults apply to the upgrade.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'
import type { SimContext } from './context.js'
import { PATHS } from './http-util.js'
import { recordRequest } from './inspection.js'

export interface WebsocketEndpoint { closeAll: () => void, close: () => Promise<void> }

/** Extra headers of each accepted upgrade's 101 response (request id, negotiated subprotocol). */
const extraHeaders = new WeakMap<IncomingMessage, string[]>()

/**
 * Picks the first offered subprotocol and hides the header from ws, whose parser refuses names such as
 * `protomsg/msgpack` (a '/' is not an RFC 7230 token character) that mender-connect really sends.
 */
function takeProtocol (req: IncomingMessage): string {
  const offered = req.headers['sec-websocket-protocol']
  delete req.headers['sec-websocket-protocol']
  return (offered ?? '').split(',').map((p) => p.trim()).find((p) => p !== '') ?? ''
}

function refuse (socket: Duplex, status: number, requestId: string, message: string): void {
  const body = JSON.stringify({ error: message, request_id: requestId })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-MEN-RequestID: ${requestId}\r\nConnection: close\r\n\r\n${body}`)
}

function deviceToken (req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization
  const m = /(?:^|;\s*)JWT=([^;]+)/.exec(req.headers.cookie ?? '')
  return m?.[1] === undefined ? undefined : `Bearer ${m[1]}`
}

function requestIdOf (req: IncomingMessage): string {
  const h = req.headers['x-men-requestid']
  return typeof h === 'string' && h !== '' ? h : randomUUID()
}

/** Faults for the upgrade; false when the request was answered (or dropped) here. */
async function applyFaults (ctx: SimContext, socket: Duplex, requestId: string): Promise<boolean> {
  const latency = ctx.faults.latencyOf('websocket')
  if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency))
  const action = ctx.faults.take('websocket')
  if (action.kind === 'drop') socket.destroy()
  if (action.kind === 'fail') refuse(socket, action.status, requestId, (STATUS_CODES[action.status] ?? 'error').toLowerCase())
  return action.kind === 'none'
}

function accept (ctx: SimContext, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer,
  claims: Record<string, unknown>, requestId: string): void {
  const headers = { ...req.headers }
  const protocol = takeProtocol(req)
  extraHeaders.set(req, [`X-MEN-RequestID: ${requestId}`, ...(protocol !== '' ? [`Sec-WebSocket-Protocol: ${protocol}`] : [])])
  wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    const record = {
      id: randomUUID(),
      deviceId: String(claims.sub),
      tenant: typeof claims['mender.tenant'] === 'string' ? claims['mender.tenant'] : '',
      url: req.url ?? '',
      headers,
      hadAuthorization: req.headers.authorization !== undefined,
      protocol,
      openedAt: new Date().toISOString(),
      closedAt: undefined as string | undefined,
      closeCode: undefined as number | undefined,
      messages: 0
    }
    ctx.data.connections.push(record)
    ws.on('message', (data, isBinary) => {
      record.messages++
      ws.send(data, { binary: isBinary })
    })
    ws.on('close', (code: number) => {
      record.closedAt = new Date().toISOString()
      record.closeCode = code
    })
    ws.on('error', () => ws.terminate())
  })
}

async function onUpgrade (ctx: SimContext, wss: WebSocketServer, req: IncomingMessage, socket: Duplex,
  head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy())
  const requestId = requestIdOf(req)
  const isConnect = (req.url ?? '').split('?')[0] === PATHS.connect
  recordRequest(ctx, req, isConnect ? 'websocket' : 'other')
  if (!isConnect) return refuse(socket, 404, requestId, 'not found')
  ctx.counts.websocket++
  if (!(await applyFaults(ctx, socket, requestId))) return
  const check = ctx.tokens.checkDevice(deviceToken(req))
  if (!check.ok) return refuse(socket, check.status, requestId, check.message)
  accept(ctx, wss, req, socket, head, check.claims, requestId)
}

/** Attaches the websocket endpoint to an http(s) server's 'upgrade' event. */
export function attachWebsocket (server: Server, ctx: SimContext): WebsocketEndpoint {
  const wss = new WebSocketServer({ noServer: true })
  wss.on('headers', (headers, req) => { headers.push(...(extraHeaders.get(req) ?? [])) })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(ctx, wss, req, socket, head).catch(() => socket.destroy())
  })
  return {
    closeAll: () => { for (const ws of wss.clients) ws.terminate() },
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    }
  }
}
