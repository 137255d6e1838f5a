// Builds and runs the Go oracle (test/support/go-decoder/main.go): Mender's own decoding of auth request bodies with
// Go's encoding/json, encoding/pem and crypto/x509, to compare the ambassador's and the simulator's readings with.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SOURCE = fileURLToPath(new URL('./go-decoder/main.go', import.meta.url))

/** What Go (Mender) made of one body. Empty strings where Go left a field empty. */
export interface GoReading {
  /** json.Unmarshal's error ('' when it decoded). */
  decodeErr: string
  idData: string
  tenantToken: string
  pubkey: string
  /** Top-level keys as Go unquoted them, and how many of them Go matched to each field. */
  keys: string[]
  matches: Record<string, number>
  /** Deepest nesting of the body. */
  depth: number
  /** utils.JsonSort(id_data): the canonical identity, or its error. */
  identity: string
  identityErr: string
  /** Base64 SPKI DER of the key pem.Decode + x509.ParsePKIXPublicKey found, or its error. */
  spki: string
  pubkeyErr: string
}

export interface GoOracle {
  read: (bodies: Buffer[]) => GoReading[]
  /** Non-ASCII runes r with unicode.ToUpper(unicode.ToLower(r)) ASCII, as `HEX:letter`. */
  foldTable: () => string[]
  cleanup: () => void
}

/** True when a `go` toolchain is on PATH. */
export function hasGo (): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0
}

/** Compiles the oracle into a temporary folder; throws with the compiler's output when that fails. */
export function buildGoOracle (): GoOracle {
  const dir = mkdtempSync(join(tmpdir(), 'go-oracle-'))
  const bin = join(dir, 'go-decoder')
  const build = spawnSync('go', ['build', '-o', bin, SOURCE], { encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0' } })
  if (build.status !== 0) throw new Error(`go build failed: ${build.stderr}`)
  const run = (args: string[], input: string): unknown => {
    const out = spawnSync(bin, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    if (out.status !== 0) throw new Error(`go-decoder failed: ${out.stderr}`)
    return JSON.parse(out.stdout)
  }
  return {
    read: (bodies) => run(['bodies'], JSON.stringify(bodies.map((b) => b.toString('base64')))) as GoReading[],
    foldTable: () => run(['fold'], '') as string[],
    cleanup: () => { rmSync(dir, { recursive: true, force: true }) }
  }
}

/**
 * Go's canonical identity text as Go ≥ 1.22 writes it: older Go (this toolchain may be 1.19) writes \b and \f as
 * \u0008 and \u000c; Mender's current builds and the ambassador write the short forms.
 */
export function modernGoJson (text: string): string {
  return text.replace(/(?<!\\)((?:\\\\)*)\\u0008/g, '$1\\b').replace(/(?<!\\)((?:\\\\)*)\\u000c/g, '$1\\f')
}

/** True when Go would let Mender accept the body (decode and Validate pass). */
export function goAccepts (r: GoReading): boolean {
  return r.decodeErr === '' && r.idData !== '' && r.pubkey !== '' && r.pubkeyErr === '' && r.identityErr === ''
}
