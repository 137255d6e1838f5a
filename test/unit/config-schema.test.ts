// Unit tests of the configuration catalogue: env names, secrets, schema strictness.
import { describe, expect, it } from 'vitest'
import { Value } from '@sinclair/typebox/value'
import { ConfigSchema, FIELDS, SECRET_KEYS, type ConfigKey } from '../../src/config/schema.js'

const keys = Object.keys(FIELDS) as ConfigKey[]

describe('FIELDS', () => {
  it.each(keys)('names %s by its MTLS_ environment variable', (key) => {
    expect(FIELDS[key].env).toBe(`MTLS_${key.toUpperCase()}`)
  })

  it.each(keys)('gives %s a default', (key) => {
    expect((FIELDS[key].schema as { default?: unknown }).default).toBeDefined()
  })

  it.each(keys)('documents %s', (key) => {
    expect(FIELDS[key].doc.length).toBeGreaterThan(0)
  })
})

describe('SECRET_KEYS', () => {
  it('holds exactly the password, the access token and the tenant token', () => {
    expect([...SECRET_KEYS].sort()).toEqual(['mender_pass', 'mender_token', 'tenant_token'])
  })
})

describe('ConfigSchema', () => {
  const defaults = Value.Default(ConfigSchema, {})

  it('accepts the defaults', () => {
    expect(Value.Check(ConfigSchema, defaults)).toBe(true)
  })

  it('refuses an unknown key', () => {
    expect(Value.Check(ConfigSchema, { ...(defaults as object), surprise: 1 })).toBe(false)
  })

  it('refuses a string where an integer belongs', () => {
    expect(Value.Check(ConfigSchema, { ...(defaults as object), body_limit: '2048' })).toBe(false)
  })
})
