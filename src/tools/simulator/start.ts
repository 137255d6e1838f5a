// startSimulator(): builds the simulator, listens (HTTP, or HTTPS with `tls`) and returns the handle with its URL,
// in-process inspection, fault knobs, reset and close.
import type { Server } from 'node:http'
import { createContext, zeroCounts } from './context.js'
import { buildSimulatorApp } from './app.js'
import { createState, registerInspectionRoutes } from './inspection.js'
import { generateJwtKeys } from './jwt.js'
import type { Simulator, SimulatorOptions } from './types.js'
import { attachWebsocket } from './websocket.js'

function urlFor (protocol: string, host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `${protocol}://${shown.includes(':') ? `[${shown}]` : shown}:${port}`
}

function resetContext (ctx: ReturnType<typeof createContext>): void {
  ctx.store.reset()
  ctx.data.reset()
  ctx.tokens.reset()
  ctx.faults.clear()
  ctx.requests.length = 0
  ctx.requestSeq = 0
  for (const counts of [ctx.counts, ctx.peaks]) Object.assign(counts, zeroCounts())
}

/** Starts a simulator on `opts.host`:`opts.port` (default 127.0.0.1:0). */
export async function startSimulator (opts: SimulatorOptions = {}): Promise<Simulator> {
  const ctx = createContext(opts, await generateJwtKeys())
  const state = createState(ctx)
  let closeSockets = (): void => {}
  const reset = (): void => {
    resetContext(ctx)
    closeSockets()
  }
  const app = buildSimulatorApp(opts, ctx, (a) => registerInspectionRoutes(a, ctx, state, reset))
  const ws = attachWebsocket(app.server as Server, ctx)
  closeSockets = ws.closeAll
  const host = opts.host ?? '127.0.0.1'
  try {
    await app.listen({ host, port: opts.port ?? 0 })
  } catch (err) {
    await ws.close()
    await app.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: urlFor(opts.tls === undefined ? 'http' : 'https', host, port),
    port,
    state,
    requests: ctx.requests,
    counts: ctx.counts,
    peaks: ctx.peaks,
    faults: ctx.faults,
    reset,
    close: async () => {
      await ws.close()
      await app.close()
    }
  }
}
