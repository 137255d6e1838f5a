// Parses listener addresses: `8080`, `:8080`, `0.0.0.0:8080`, `[::1]:8080`, `localhost:0`.
export interface ListenAddress { host: string, port: number }

const DEFAULT_HOST = '0.0.0.0'

export function parseListen (text: string): ListenAddress | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text.trim())
  if (m === null) return undefined
  const port = Number(m[2])
  if (port > 65535) return undefined
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '')
  return { host: host === '' ? DEFAULT_HOST : host, port }
}
