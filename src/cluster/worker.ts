// The worker's side of the cluster channel: hello and the shared ticket secret, the report of its start or startup
// failure, and the answers to the primary's requests (readiness, metrics, reload, stop). Sends never throw: a closed
// channel means the primary is gone, and Node's cluster module then ends the worker.
import { isOurs, type Answers, type FromWorker, type RequestKind, type ToWorker } from './messages.js'

export type Handlers = { [K in RequestKind]: (trigger?: string) => Promise<Answers[K]> }

function send (m: FromWorker): void {
  process.send?.(m, undefined, {}, () => {})
}

/** Says hello to the primary; resolves with the ticket secret it shares with every worker. */
export async function joinCluster (timeoutMs = 30_000): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (!isOurs<ToWorker>(m) || m.mtls !== 'init') return
      process.off('message', onMessage)
      clearTimeout(timer)
      resolve(Buffer.from(m.secret, 'hex'))
    }
    const timer = setTimeout(() => {
      process.off('message', onMessage)
      reject(new Error('the primary process sent no ticket secret'))
    }, timeoutMs)
    process.on('message', onMessage)
    send({ mtls: 'hello' })
  })
}

export function reportStarted (url: string, addresses: Record<string, string>, modes: string[]): void {
  send({ mtls: 'started', url, addresses, modes })
}

/** Tells the primary why this worker could not start (its message and code, as single-process mode logs them). */
export function reportFailed (err: unknown): void {
  const code = (err as { code?: unknown }).code
  send({ mtls: 'failed', message: (err as Error).message ?? String(err), ...(typeof code === 'string' ? { code } : {}) })
}

/** Answers every request of the primary with `handlers`; a handler's failure is answered as an error. */
export function answerRequests (handlers: Handlers): void {
  process.on('message', (m: unknown) => {
    if (!isOurs<ToWorker>(m) || m.mtls !== 'request') return
    const handler = handlers[m.kind] as ((trigger?: string) => Promise<unknown>) | undefined
    if (handler === undefined) {
      send({ mtls: 'answer', id: m.id, error: `unknown request ${String(m.kind)}` })
      return
    }
    handler(m.trigger).then(
      (value) => { send({ mtls: 'answer', id: m.id, value }) },
      (err: unknown) => { send({ mtls: 'answer', id: m.id, error: (err as Error).message ?? String(err) }) })
  })
}
