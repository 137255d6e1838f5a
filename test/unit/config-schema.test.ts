// Unit tests of the configuration catalogue: env names, secrets, schema strictness.
import { describe, expect, it } from 'vitest'
import { Value } from '@sinclair/typebox/value'
import { ConfigSchema, FIELDS, SECRET_KEYS, type ConfigKey } from '../../src/config/schema.js'

const keys = Object.keys(FIELDS) as ConfigKey[]

describe('FIELDS', () => {
  it('names every key by its MTLS_ environment variable', () => {
    expect(keys.filter((key) => FIELDS[key].env !== `MTLS_${key.toUpperCase()}`)).toEqual([])
  })

  it('gives every key a default', () => {
    expect(keys.filter((key) => (FIELDS[key].schema as { default?: unknown }).default === undefined)).toEqual([])
  })

  it('documents every key', () => {
    expect(keys.filter((key) => FIELDS[key].doc.trim() === '')).toEqual([])
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
