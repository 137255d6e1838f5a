// docker-compose.yml is valid against the Compose Specification's JSON schema (compose-spec.json as shipped by the
// dclint package), with YAML merge keys resolved as compose resolves them.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import { describe, expect, it } from 'vitest'
import { composeFile, type Doc } from './support/repo-files.js'

function composeSchema (): ValidateFunction {
  const dir = dirname(createRequire(import.meta.url).resolve('dclint/package.json'))
  const schema = JSON.parse(readFileSync(join(dir, 'schemas', 'compose.schema.json'), 'utf8')) as Record<string, unknown>
  // draft-07 schema; its $schema URL is spelled differently from ajv's bundled meta-schema id
  return new Ajv({ allErrors: true, strict: false, validateSchema: false }).compile(schema)
}

const validate = composeSchema()
const errors = (doc: Doc): string[] => validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`)

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(errors(composeFile())).toEqual([])
  })

  it('the schema check rejects an unknown service field', () => {
    const bad = composeFile()
    ;(bad.services as Record<string, Doc>)['mtls-ambassador'] = { ...(bad.services as Record<string, Doc>)['mtls-ambassador'], ports_: ['8080'] }
    expect(errors(bad).join()).toMatch(/additional properties/)
  })

  it('the schema check rejects an unknown depends_on condition', () => {
    const bad = composeFile()
    const device = (bad.services as Record<string, Doc>).device as Doc
    device.depends_on = { 'mtls-ambassador': { condition: 'service_ready' } }
    expect(errors(bad).length).toBeGreaterThan(0)
  })

  it('resolves the hardening merge key into every long-running service', () => {
    const services = composeFile().services as Record<string, Doc>
    const hardened = Object.entries(services).filter(([, s]) => s.user === '65534:65534' && s.read_only === true)
    expect(hardened.map(([name]) => name).sort()).toEqual(['device', 'mender-sim', 'mtls-ambassador'])
  })
})
