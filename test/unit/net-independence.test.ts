// src/net is the base of the L4 tunnel mode and must stay free of gateway code: its modules may import only node:
// builtins, pino types, src/errors.ts and each other. New coded errors keep the catalogue's codes unique.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { HttpErrors, NetErrors, NetReasons, StartupErrors, TlsReasons } from '../../src/errors.js'

const NET = new URL('../../src/net/', import.meta.url)
const files = readdirSync(NET).filter((f) => f.endsWith('.ts'))

function imports (text: string): Array<{ spec: string, typeOnly: boolean }> {
  const found: Array<{ spec: string, typeOnly: boolean }> = []
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    found.push({ spec: m[3] ?? '', typeOnly: m[2] !== undefined })
  }
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1] ?? '', typeOnly: false })
  return found
}

describe('src/net', () => {
  it('has modules to check', () => {
    expect(files.length).toBeGreaterThanOrEqual(8)
  })

  it.each(files)('%s imports only node: builtins, pino types, ../errors.js and its siblings', (file) => {
    const text = readFileSync(new URL(file, NET), 'utf8')
    for (const { spec, typeOnly } of imports(text)) {
      const allowed = spec.startsWith('node:') || spec === '../errors.js' || /^\.\/[a-z0-9-]+\.js$/.test(spec) ||
        (spec === 'pino' && typeOnly)
      expect(allowed, `${file} imports ${spec}`).toBe(true)
    }
  })

  it('adds codes that are unique across the whole catalogue', () => {
    const codes = [
      ...Object.values(HttpErrors).map((C) => new C().code),
      ...Object.values(TlsReasons),
      ...Object.values(StartupErrors).map((C) => new C('x').code),
      ...Object.values(NetErrors).map((C) => new C('x', 'y').code),
      ...Object.values(NetReasons)
    ]
    expect(new Set(codes).size).toBe(codes.length)
    for (const [name, C] of Object.entries(NetErrors)) expect(new C('x', 'y').code).toBe(`MTLS_ERR_${name}`)
  })
})
