// extra/systemd as shipped: `systemd-analyze verify` accepts every unit without a warning (the binary path pointed
// at one that exists here), each service loads a valid configuration whose `listen: systemd:NAME` is the
// FileDescriptorName of its socket unit, and the units say what the README promises (Type=notify, SIGHUP reload).
import { describe, expect, it } from 'vitest'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { REPO_ROOT } from '../support/process.js'
import { missingTools, runTool } from '../support/tools.js'

const DIR = join(REPO_ROOT, 'extra', 'systemd')
const BINARY = '/usr/local/bin/mtls-ambassador'

/** The values of `key=` in a unit file, in order. */
const values = (unit: string, key: string): string[] =>
  [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim())

describe('extra/systemd', () => {
  it('systemd-analyze verify accepts every unit, without a warning', async () => {
    expect(missingTools(['systemd-analyze'])).toEqual([])
    const units = (await readdir(DIR)).filter((f) => /\.(service|socket)$/.test(f))
    expect(units.sort()).toEqual(['mtls-tunnel-forward.service', 'mtls-tunnel-forward.socket',
      'mtls-tunnel-reverse.service', 'mtls-tunnel-reverse.socket'])
    const tmp = await mkdtemp(join(tmpdir(), 'units-'))
    try {
      for (const u of units) {
        const text = await readFile(join(DIR, u), 'utf8')
        await writeFile(join(tmp, u), text.replaceAll(BINARY, process.execPath))
      }
      const r = await runTool('systemd-analyze', ['verify', ...units.map((u) => join(tmp, u))], 60_000)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }, 90_000)

  for (const side of ['forward', 'reverse']) {
    it(`the ${side} service loads a valid config listening on its socket unit's FileDescriptorName`, async () => {
      const service = await readFile(join(DIR, `mtls-tunnel-${side}.service`), 'utf8')
      const socket = await readFile(join(DIR, `mtls-tunnel-${side}.socket`), 'utf8')
      expect(values(service, 'Type')).toEqual(['notify'])
      expect(values(service, 'ExecReload')).toEqual(['kill -HUP $MAINPID'])
      expect(values(service, 'Requires')).toEqual([`mtls-tunnel-${side}.socket`])
      expect(values(socket, 'Service')).toEqual([`mtls-tunnel-${side}.service`])
      const [exec] = values(service, 'ExecStart')
      const configPath = /--config (\S+)/.exec(exec ?? '')?.[1] ?? ''
      expect(exec?.startsWith(`${BINARY} serve `)).toBe(true)
      const config = loadConfig({ file: join(DIR, basename(configPath)), env: {} })
      expect(config.tunnels.map((t) => t.mode)).toEqual([side])
      const [name] = values(socket, 'FileDescriptorName')
      expect(config.tunnels[0]?.listen).toBe(`systemd:${name ?? ''}`)
    })
  }

  it('the forward socket is a Unix socket with mode 0660', async () => {
    const socket = await readFile(join(DIR, 'mtls-tunnel-forward.socket'), 'utf8')
    expect(values(socket, 'ListenStream')[0]).toMatch(/^\/run\/.+\.sock$/)
    expect(values(socket, 'SocketMode')).toEqual(['0660'])
  })
})
