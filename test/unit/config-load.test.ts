// Unit tests of the configuration loader: defaults, YAML file ← MTLS_* env ← overrides, coercion, validation that
// lists every problem at once, freezing, and secret masking.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadSettings, maskedConfig, type LoadOptions } from '../../src/config/load.js'
import { FIELDS, type ConfigKey } from '../../src/config/schema.js'
import type { CodedError } from '../../src/errors.js'

const BACKEND = 'https://mender.example.com'
const BASE_ENV = { MTLS_MENDER_BACKEND: BACKEND, MTLS_MENDER_USER: 'ops@example.com', MTLS_MENDER_PASS: 'pa55-word' }
const TOKEN_ENV = { MTLS_MENDER_BACKEND: BACKEND, MTLS_MENDER_TOKEN: 'pat-secret-token' }

let dir: string
let fileCount = 0

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mtls-config-test-')) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
afterEach(() => { vi.unstubAllEnvs() })

function yamlFile (text: string): string {
  const path = join(dir, `config-${++fileCount}.yaml`)
  writeFileSync(path, text)
  return path
}

function configError (opts: LoadOptions): CodedError {
  try {
    loadSettings(opts)
  } catch (err) {
    return err as CodedError
  }
  throw new Error('loadSettings accepted the configuration')
}

/** The problem lines of a MTLS_ERR_CONFIG_INVALID message. */
function problems (opts: LoadOptions): string[] {
  return configError(opts).message.split('\n').filter((line) => line.startsWith('  - '))
}

describe('loadSettings defaults', () => {
  const given: ConfigKey[] = ['mender_backend', 'mender_token']
  const keys = (Object.keys(FIELDS) as ConfigKey[]).filter((k) => !given.includes(k))

  it.each(keys)('defaults %s to the value FIELDS declares', (key) => {
    const config = loadSettings({ env: TOKEN_ENV })
    expect(config[key]).toEqual((FIELDS[key].schema as { default: unknown }).default)
  })

  it('yields exactly the keys of FIELDS', () => {
    expect(Object.keys(loadSettings({ env: TOKEN_ENV })).sort()).toEqual(Object.keys(FIELDS).sort())
  })

  it('reads process.env when no env is given', () => {
    vi.stubEnv('MTLS_MENDER_BACKEND', BACKEND)
    vi.stubEnv('MTLS_MENDER_TOKEN', 'from-process-env')
    expect(loadSettings().mender_token).toBe('from-process-env')
  })
})

describe('loadSettings sources and precedence', () => {
  it('takes a value from the YAML file', () => {
    const file = yamlFile('listen: "127.0.0.1:9443"\n')
    expect(loadSettings({ file, env: BASE_ENV }).listen).toBe('127.0.0.1:9443')
  })

  it('lets the environment win over the YAML file', () => {
    const file = yamlFile('listen: "127.0.0.1:9443"\n')
    expect(loadSettings({ file, env: { ...BASE_ENV, MTLS_LISTEN: '9555' } }).listen).toBe('9555')
  })

  it('lets overrides win over the environment', () => {
    const env = { ...BASE_ENV, MTLS_LISTEN: '9555' }
    expect(loadSettings({ env, overrides: { listen: '9666' } }).listen).toBe('9666')
  })

  it('lets overrides win over the YAML file', () => {
    const file = yamlFile('key_match: relaxed\n')
    expect(loadSettings({ file, env: BASE_ENV, overrides: { key_match: 'strict' } }).key_match).toBe('strict')
  })

  it('ignores an override whose value is undefined', () => {
    const env = { ...BASE_ENV, MTLS_LISTEN: '9555' }
    expect(loadSettings({ env, overrides: { listen: undefined } }).listen).toBe('9555')
  })

  it('reads the file MTLS_CONFIG names', () => {
    const file = yamlFile('status_listen: "off"\n')
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_CONFIG: file } }).status_listen).toBe('off')
  })

  it('prefers the file option over MTLS_CONFIG', () => {
    const named = yamlFile('listen: "7001"\n')
    const given = yamlFile('listen: "7002"\n')
    expect(loadSettings({ file: given, env: { ...BASE_ENV, MTLS_CONFIG: named } }).listen).toBe('7002')
  })

  it('treats an empty YAML file as no settings', () => {
    expect(loadSettings({ file: yamlFile(''), env: BASE_ENV }).listen).toBe('8080')
  })

  it('takes credentials from the YAML file', () => {
    const file = yamlFile(`mender_backend: ${BACKEND}\nmender_token: tok-from-file\n`)
    expect(loadSettings({ file, env: {} }).mender_token).toBe('tok-from-file')
  })

  it('turns a YAML number into a string for a string key', () => {
    expect(loadSettings({ file: yamlFile('listen: 9443\n'), env: BASE_ENV }).listen).toBe('9443')
  })

  it('accepts an unquoted YAML TLS version', () => {
    const file = yamlFile('https_tls_version_min: 1.3\n')
    expect(loadSettings({ file, env: BASE_ENV }).https_tls_version_min).toBe('1.3')
  })

  it('accepts native YAML booleans and integers', () => {
    const file = yamlFile('preauth_force: false\nbody_limit: 4096\n')
    const c = loadSettings({ file, env: BASE_ENV })
    expect([c.preauth_force, c.body_limit]).toEqual([false, 4096])
  })
})

describe('loadSettings coercion of environment strings', () => {
  it.each([
    ['true', true], ['false', false], ['TRUE', true], ['False', false], ['1', true], ['0', false], [' true ', true]
  ])('reads MTLS_DEBUG_LOG=%j as %j', (text, expected) => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_DEBUG_LOG: text } }).debug_log).toBe(expected)
  })

  it('reads an integer from its decimal text', () => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_BODY_LIMIT: '2048' } }).body_limit).toBe(2048)
  })

  it('reads an integer surrounded by whitespace', () => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_PREAUTH_CACHE_TTL: ' 60 ' } }).preauth_cache_ttl).toBe(60)
  })

  it.each(['yes', 'on', '', 'tru'])('refuses MTLS_PREAUTH_FORCE=%j', (text) => {
    expect(configError({ env: { ...BASE_ENV, MTLS_PREAUTH_FORCE: text } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it.each(['2048.5', '0x1000', '1e4', 'true', '', 'abc', '12abc'])('refuses MTLS_BODY_LIMIT=%j', (text) => {
    expect(configError({ env: { ...BASE_ENV, MTLS_BODY_LIMIT: text } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses a fractional cache TTL instead of truncating it to 0', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_PREAUTH_CACHE_TTL: '0.5' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses a fractional integer from the YAML file', () => {
    const file = yamlFile('body_limit: 2048.7\n')
    expect(configError({ file, env: BASE_ENV }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses a negative timeout', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_HANDSHAKE_TIMEOUT: '-1' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses a body limit under its minimum', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_BODY_LIMIT: '1023' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses a cache size of 0', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_PREAUTH_CACHE_SIZE: '0' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('accepts a cache TTL of 0', () => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_PREAUTH_CACHE_TTL: '0' } }).preauth_cache_ttl).toBe(0)
  })

  it('refuses a log level outside the list', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_LOG_LEVEL: 'loud' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('refuses TLS 1.1 as minimum version', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_HTTPS_TLS_VERSION_MIN: '1.1' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })
})

describe('loadSettings validation', () => {
  it('fails with MTLS_ERR_CONFIG_INVALID', () => {
    expect(configError({ env: {} }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('lists three bad values as three problem lines', () => {
    const env = { ...BASE_ENV, MTLS_BODY_LIMIT: 'abc', MTLS_LOG_LEVEL: 'loud', MTLS_KEY_MATCH: 'maybe' }
    expect(problems({ env })).toHaveLength(3)
  })

  it('names each bad key with its environment variable', () => {
    const env = { ...BASE_ENV, MTLS_BODY_LIMIT: 'abc', MTLS_LOG_LEVEL: 'loud', MTLS_KEY_MATCH: 'maybe' }
    const lines = problems({ env })
    expect(['MTLS_BODY_LIMIT', 'MTLS_LOG_LEVEL', 'MTLS_KEY_MATCH'].map((v) => lines.some((l) => l.includes(v))))
      .toEqual([true, true, true])
  })

  it('reports a type error together with the missing backend and credentials', () => {
    expect(problems({ env: { MTLS_BODY_LIMIT: 'abc' } })).toHaveLength(3)
  })

  it('reports an unknown YAML key by name', () => {
    const lines = problems({ file: yamlFile('mender_backnd: https://typo.example\n'), env: BASE_ENV })
    expect(lines).toEqual([expect.stringContaining('unknown key mender_backnd')])
  })

  it('reports a missing backend', () => {
    expect(problems({ env: { MTLS_MENDER_TOKEN: 't' } })).toEqual([expect.stringContaining('MTLS_MENDER_BACKEND')])
  })

  it('reports a backend that is not a URL', () => {
    const lines = problems({ env: { ...BASE_ENV, MTLS_MENDER_BACKEND: 'not a url' } })
    expect(lines).toEqual([expect.stringContaining('mender_backend')])
  })

  it('reports a backend that is not http(s)', () => {
    const lines = problems({ env: { ...BASE_ENV, MTLS_MENDER_BACKEND: 'ftp://mender.example.com' } })
    expect(lines).toEqual([expect.stringContaining('mender_backend')])
  })

  it('accepts a plain http backend', () => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_MENDER_BACKEND: 'http://mender:8080' } }).mender_backend)
      .toBe('http://mender:8080')
  })

  it('reports missing credentials', () => {
    expect(problems({ env: { MTLS_MENDER_BACKEND: BACKEND } })).toEqual([expect.stringContaining('credentials')])
  })

  it('reports a user without a password', () => {
    const env = { MTLS_MENDER_BACKEND: BACKEND, MTLS_MENDER_USER: 'ops@example.com' }
    expect(problems({ env })).toEqual([expect.stringContaining('credentials')])
  })

  it('reports a password without a user', () => {
    const env = { MTLS_MENDER_BACKEND: BACKEND, MTLS_MENDER_PASS: 'pw' }
    expect(problems({ env })).toEqual([expect.stringContaining('credentials')])
  })

  it('reports user/password and a token together', () => {
    const env = { ...BASE_ENV, MTLS_MENDER_TOKEN: 'tok' }
    expect(problems({ env })).toEqual([expect.stringContaining('not both')])
  })

  it('accepts a token alone', () => {
    expect(loadSettings({ env: TOKEN_ENV }).mender_token).toBe('pat-secret-token')
  })

  it('reports a bad listen address', () => {
    expect(problems({ env: { ...BASE_ENV, MTLS_LISTEN: 'localhost:http' } })).toEqual([expect.stringContaining('listen')])
  })

  it('reports a status listener port above 65535', () => {
    const lines = problems({ env: { ...BASE_ENV, MTLS_STATUS_LISTEN: '70000' } })
    expect(lines).toEqual([expect.stringContaining('status_listen')])
  })

  it('accepts `off` as status listener', () => {
    expect(loadSettings({ env: { ...BASE_ENV, MTLS_STATUS_LISTEN: 'off' } }).status_listen).toBe('off')
  })

  it('does not accept `off` for the mTLS listener', () => {
    expect(configError({ env: { ...BASE_ENV, MTLS_LISTEN: 'off' } }).code).toBe('MTLS_ERR_CONFIG_INVALID')
  })

  it('reports a missing config file', () => {
    const lines = problems({ file: join(dir, 'absent.yaml'), env: BASE_ENV })
    expect(lines).toEqual([expect.stringContaining('absent.yaml')])
  })

  it('reports YAML that is not a mapping', () => {
    expect(problems({ file: yamlFile('- listen\n- 8080\n'), env: BASE_ENV })).toHaveLength(1)
  })

  it('reports YAML that does not parse', () => {
    expect(problems({ file: yamlFile('listen: [8080\n'), env: BASE_ENV })).toHaveLength(1)
  })

  it('reports a YAML list given for a string key', () => {
    expect(problems({ file: yamlFile('listen: [8080]\n'), env: BASE_ENV })).toEqual([expect.stringContaining('MTLS_LISTEN')])
  })
})

describe('loadSettings result', () => {
  it('is frozen', () => {
    expect(Object.isFrozen(loadSettings({ env: BASE_ENV }))).toBe(true)
  })

  it('refuses writes', () => {
    const config = loadSettings({ env: BASE_ENV }) as { listen: string }
    expect(() => { config.listen = '1' }).toThrow(TypeError)
  })
})

describe('maskedConfig', () => {
  it('masks the password', () => {
    expect(maskedConfig(loadSettings({ env: BASE_ENV })).mender_pass).toBe('***')
  })

  it('masks the token', () => {
    expect(maskedConfig(loadSettings({ env: TOKEN_ENV })).mender_token).toBe('***')
  })

  it('leaves an unset secret empty', () => {
    expect(maskedConfig(loadSettings({ env: BASE_ENV })).mender_token).toBe('')
  })

  it('never contains the password or the token', () => {
    const text = JSON.stringify([
      maskedConfig(loadSettings({ env: BASE_ENV })), maskedConfig(loadSettings({ env: TOKEN_ENV }))
    ])
    expect([text.includes('pa55-word'), text.includes('pat-secret-token')]).toEqual([false, false])
  })

  it('keeps the user name', () => {
    expect(maskedConfig(loadSettings({ env: BASE_ENV })).mender_user).toBe('ops@example.com')
  })

  it('leaves the configuration itself unmasked', () => {
    const config = loadSettings({ env: BASE_ENV })
    maskedConfig(config)
    expect(config.mender_pass).toBe('pa55-word')
  })
})
