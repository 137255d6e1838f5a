import neostandard from 'neostandard'

// The simulator stands in for Mender: it must not share the code it is meant to check (key parsing, signatures,
// identity canonicalisation, body decoding), or a bug there would pass every test that uses it.
const GATEWAY_FOLDERS = ['device-auth', 'mender', 'tls', 'proxy']

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.cache/**', 'certs/**'] }),
  {
    files: ['src/simulator/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: `^\\.\\.?/(?:.*/)?(?:${GATEWAY_FOLDERS.join('|')})(?:/|$)`,
          message: `the simulator has its own implementations; it must not import src/{${GATEWAY_FOLDERS.join(',')}}`
        }]
      }]
    }
  }
]
