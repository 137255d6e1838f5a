// Request ids: the device's own X-MEN-RequestID when it is well-formed (so its logs correlate), else a UUID.
import { randomUUID } from 'node:crypto'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function requestId (req: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = req.headers['x-men-requestid']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
