import neostandard from 'neostandard'

// Folder boundaries of src/ (one engine, two modes):
// - shared folders (config, observe, status, lib, x509, tls, net, cluster) never import a mode or a tool;
// - each mode (gateway, tunnel) never imports the other mode or a tool;
// - the Mender simulator (tools/simulator) stands in for Mender: it must not share the code it is meant to check
//   (key parsing, signatures, identity canonicalisation, body decoding), or a bug there would pass every test.
const SHARED = ['config', 'observe', 'status', 'lib', 'x509', 'tls', 'net', 'cluster']

/** A no-restricted-imports rule refusing relative imports that pass through any of `folders`. */
function forbid (folders, message) {
  return ['error', {
    patterns: [{ regex: `^\\.\\.?/(?:.*/)?(?:${folders.join('|')})(?:/|$)`, message }]
  }]
}

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.cache/**', 'certs/**'] }),
  {
    rules: {
      '@stylistic/max-len': ['error', {
        code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true
      }]
    }
  },
  {
    files: ['src/**'],
    rules: { 'max-lines-per-function': ['error', { max: 40, skipBlankLines: true, skipComments: true }] }
  },
  {
    files: SHARED.map((f) => `src/${f}/**`),
    rules: { 'no-restricted-imports': forbid(['gateway', 'tunnel', 'tools'], 'shared code must not import a mode or a tool') }
  },
  {
    files: ['src/gateway/**'],
    rules: { 'no-restricted-imports': forbid(['tunnel', 'tools'], 'the gateway must not import the tunnel mode or a tool') }
  },
  {
    files: ['src/tunnel/**'],
    rules: { 'no-restricted-imports': forbid(['gateway', 'tools'], 'the tunnel must not import the gateway mode or a tool') }
  },
  {
    files: ['src/tools/simulator/**'],
    rules: {
      'no-restricted-imports': forbid(['gateway', 'tunnel', 'tls', 'x509', 'net', 'pki'],
        'the simulator has its own implementations; it must not import the gateway\'s checking code')
    }
  },
  {
    files: ['src/**'],
    ignores: ['src/server.ts'],
    rules: { 'n/no-process-exit': 'error' }
  }
]
