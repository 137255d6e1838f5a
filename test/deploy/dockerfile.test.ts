// The Dockerfile and its build context, read statically: multi-stage, a maintained Node LTS slim base (the major.minor
// the tests run on, scripts/test-node.json), a runtime stage with only the build output as UID 65534, and a build
// context that can never carry a key or certificate.
import { describe, expect, it } from 'vitest'
import { execForm, finalStage, ops, parseCopy, parseDockerfile, parseHealthcheck } from './support/dockerfile.js'
import { dockerignoreFilter } from './support/dockerignore.js'
import { buildContextFiles, readRepoFile } from './support/repo-files.js'

const dockerfile = parseDockerfile(readRepoFile('Dockerfile'))
const runtime = finalStage(dockerfile)
const build = dockerfile.stages[0]
const args = (op: string): string[] => ops(runtime, op).map((i) => i.args.trim())
// the image's Node version tag (`node:<tag>-<suite>-slim`), the pinned test binaries and the supported range
const imageTag = /^node:(\d+(?:\.\d+)*)-[a-z]+-slim$/.exec(runtime.from)?.[1] ?? ''
const testNode = JSON.parse(readRepoFile('scripts/test-node.json')) as { shipped: string, oldest: string }
const engines = (JSON.parse(readRepoFile('package.json')) as { engines: { node: string } }).engines.node

describe('Dockerfile', () => {
  it('builds in its own stage and runs on the same Node LTS slim base', () => {
    const major = Number(imageTag.split('.')[0])
    expect({
      stages: dockerfile.stages.length, same: build?.from === runtime.from, lts: major >= 22 && major % 2 === 0
    }).toEqual({ stages: 2, same: true, lts: true })
  })

  it('ships the Node the tests run on: the image tag is the major.minor of the shipped test pin', () => {
    expect(imageTag).toMatch(/^\d+\.\d+$/)
    expect(testNode.shipped.split('.').slice(0, 2).join('.')).toBe(imageTag)
  })

  it('is documented as it is: the README names the image, both pinned test versions and engines', () => {
    const readme = readRepoFile('README.md')
    const named = [`node:${imageTag}-`, `Node ${testNode.shipped}`, `Node ${testNode.oldest}`, `\`${engines}\``]
    expect(named.filter((n) => !readme.includes(n))).toEqual([])
  })

  it('declares in engines exactly the tested majors, each pin inside its range', () => {
    const ranges = engines.split('||').map((r) => /^\^(\d+)\.(\d+)\.(\d+)$/.exec(r.trim())?.slice(1).map(Number) ?? [])
    const satisfies = (v: string): boolean => ranges.some(([major, minor = 0, patch = 0]) => {
      const [a = 0, b = 0, c = 0] = v.split('.').map(Number)
      return a === major && (b > minor || (b === minor && c >= patch))
    })
    expect({
      majors: ranges.map((r) => r[0]), oldest: satisfies(testNode.oldest), shipped: satisfies(testNode.shipped)
    }).toEqual({ majors: [testNode.oldest, testNode.shipped].map((v) => Number(v.split('.')[0])), oldest: true, shipped: true })
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
