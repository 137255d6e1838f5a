// The Dockerfile and its build context, read statically: multi-stage, a maintained Node LTS slim base, a runtime
// stage with only the build output as UID 65534, and a build context that can never carry a key or certificate.
import { describe, expect, it } from 'vitest'
import { execForm, finalStage, ops, parseCopy, parseDockerfile, parseHealthcheck } from './support/dockerfile.js'
import { dockerignoreFilter } from './support/dockerignore.js'
import { buildContextFiles, readRepoFile } from './support/repo-files.js'

const dockerfile = parseDockerfile(readRepoFile('Dockerfile'))
const runtime = finalStage(dockerfile)
const build = dockerfile.stages[0]
const args = (op: string): string[] => ops(runtime, op).map((i) => i.args.trim())

describe('Dockerfile', () => {
  it('builds in its own stage and runs on the same Node LTS slim base', () => {
    const lts = /^node:(\d+)-[a-z]+-slim$/
    const major = Number(lts.exec(runtime.from)?.[1])
    expect({
      stages: dockerfile.stages.length, same: build?.from === runtime.from, lts: major >= 22 && major % 2 === 0
    }).toEqual({ stages: 2, same: true, lts: true })
  })

  it('installs with npm ci, builds, then prunes to production dependencies, without install scripts', () => {
    const runs = ops(build ?? runtime, 'RUN').map((i) => i.args)
    expect(runs.map((r) => r.split(' ').slice(0, 3).join(' '))).toEqual(['npm ci --ignore-scripts', 'npm run build', 'npm prune --omit=dev'])
  })

  it('copies only dist/, node_modules and package.json from the build stage into the runtime stage', () => {
    const copies = ops(runtime, 'COPY').map((i) => parseCopy(i.args))
    expect(copies.map((c) => [c.from, c.sources.join(), c.dest])).toEqual([
      ['build', '/app/package.json', './package.json'],
      ['build', '/app/node_modules', './node_modules'],
      ['build', '/app/dist', './dist']
    ])
  })

  it('runs as UID/GID 65534, set after every file is in place', () => {
    const order = runtime.instructions.map((i) => i.op)
    expect({ user: args('USER'), userAfterCopies: order.lastIndexOf('USER') > order.lastIndexOf('COPY') }).toEqual({ user: ['65534:65534'], userAfterCopies: true })
  })

  it('starts the CLI with `serve` by default', () => {
    expect([execForm(args('ENTRYPOINT')[0] ?? ''), execForm(args('CMD')[0] ?? '')]).toEqual([['node', 'dist/cli.js'], ['serve']])
  })

  it('checks health with node itself (slim images have no curl)', () => {
    const hc = parseHealthcheck(args('HEALTHCHECK')[0] ?? '')
    expect([hc.command[0], hc.command[1]]).toEqual(['node', '-e'])
  })

  it('runs in production mode', () => {
    expect(args('ENV')).toContain('NODE_ENV=production')
  })
})

describe('build context (.dockerignore)', () => {
  const keep = dockerignoreFilter(readRepoFile('.dockerignore'))

  it('holds no key, certificate or certs/ file', () => {
    expect(buildContextFiles().filter((f) => f.startsWith('certs/') || /\.(key|pem|crt|p12)$/.test(f))).toEqual([])
  })

  it('leaves out secrets and local state wherever they are', () => {
    const samples = ['certs/server/server.key', 'certs/root-ca/root.ca.key', 'src/tls/leaked.key', 'src/x/ca.pem', '.env',
      'src/.env.local', '.git/config', 'node_modules/fastify/package.json', 'dist/cli.js', '.cache/ci-test.log', 'test/support/pki.ts']
    expect(samples.filter(keep)).toEqual([])
  })

  it('holds every source the build stage copies', () => {
    const files = buildContextFiles()
    const sources = ops(build ?? runtime, 'COPY').flatMap((i) => parseCopy(i.args).sources).map((s) => s.replace(/^\.\//, ''))
    expect(sources.filter((s) => !files.some((f) => f === s || f.startsWith(s + '/')))).toEqual([])
  })

  it('follows docker semantics: a later `!` re-includes, `**` crosses folders, a folder rule covers its files', () => {
    const f = dockerignoreFilter('*\n!src\n**/*.key\n')
    expect(['src/a/b.ts', 'src/a/b.key', 'README.md', 'src'].map(f)).toEqual([true, false, false, true])
  })
})
