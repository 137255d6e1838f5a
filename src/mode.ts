// What every mode (the HTTP gateway, the tunnels) offers the process: start, reload, close, readiness. server.ts
// drives them; a mode never exits the process and never reads configuration beyond its own section.
import type { Check } from './status/readiness.js'
import type { ReloadResult } from './tls/reloader.js'

export interface Mode {
  readonly name: string
  /** Binds its listeners and starts serving; on failure closes whatever it had started, then rejects. */
  start: () => Promise<void>
  /** Loads its trust again (SIGHUP); never rejects: a failure is logged, counted, retried and returned. */
  reload: (trigger: string) => Promise<ReloadResult[]>
  /** Stops accepting, lets in-flight work finish for up to `deadlineMs`, then closes what is left. */
  close: (deadlineMs: number) => Promise<void>
  /** Its readiness checks (names prefixed by the mode where several modes run). */
  readiness: () => Record<string, Check>
  /** Where it listens, by listener name (e.g. `{ gateway: 'https://127.0.0.1:8080' }`), once started. */
  addresses: () => Record<string, string>
}
