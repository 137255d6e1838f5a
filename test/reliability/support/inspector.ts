// A full garbage collection in the gateway process, from outside: the child runs with the V8 inspector on a loopback
// port (NODE_OPTIONS=--inspect=127.0.0.1:0, announced on its stderr); a short inspector session asks for
// HeapProfiler.collectGarbage and reads process.memoryUsage() after it, so heap figures compare live objects only.
import WebSocket from 'ws'
import type { GatewayProcess } from './resources.js'

/** What the gateway's environment needs for gcOf() to work. */
export const INSPECT_ENV = { NODE_OPTIONS: '--inspect=127.0.0.1:0' }

export interface HeapAfterGc { heapUsedKb: number, externalKb: number, rssKb: number }

function inspectorUrl (gw: GatewayProcess): string {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(gw.stderr())?.[1]
  if (url === undefined) throw new Error(`the gateway announced no inspector (start it with INSPECT_ENV): ${gw.stderr()}`)
  return url
}

/** Runs a full GC in the gateway process; its heap, external memory and RSS right after (kB). */
export async function gcOf (gw: GatewayProcess, timeoutMs = 30_000): Promise<HeapAfterGc> {
  const ws = new WebSocket(inspectorUrl(gw))
  const pending = new Map<number, (result: unknown) => void>()
  let next = 1
  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number, result?: unknown, error?: unknown }
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.error !== undefined ? { error: msg.error } : msg.result)
  })
  let closed = false
  ws.once('close', () => { closed = true; for (const done of pending.values()) done({ error: 'inspector closed' }) })
  const call = async (method: string, params: Record<string, unknown> = {}): Promise<unknown> => {
    const result = await new Promise((resolve) => {
      if (closed) { resolve({ error: 'inspector closed' }); return }
      const id = next++
      pending.set(id, resolve)
      ws.send(JSON.stringify({ id, method, params }))
    })
    if ((result as { error?: unknown }).error !== undefined) {
      throw new Error(`${method}: ${JSON.stringify((result as { error: unknown }).error)}`)
    }
    return result
  }
  const timer = setTimeout(() => ws.terminate(), timeoutMs)
  try {
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); ws.once('close', reject) })
    await call('HeapProfiler.collectGarbage')
    const res = await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true
    }) as { result?: { value?: string } }
    const m = JSON.parse(res.result?.value ?? '{}') as { heapUsed: number, external: number, rss: number }
    const kb = (bytes: number): number => Math.round(bytes / 1024)
    return { heapUsedKb: kb(m.heapUsed), externalKb: kb(m.external), rssKb: kb(m.rss) }
  } finally {
    clearTimeout(timer)
    ws.close()
  }
}
