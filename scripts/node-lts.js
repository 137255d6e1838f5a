// The Node binaries the tests run on: the version the image ships (the Dockerfile's `ARG NODE_IMAGE`) and the oldest
// supported major, each pinned to an exact version in scripts/test-node.json (the shipped pin must be the image's
// version, or nothing runs). A machine whose own node is of the wanted major runs it directly; otherwise the binary
// comes from the npm registry's `node-<platform>-<arch>` package, fetched once into .cache/node/<version>/.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { delimiter, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(REPO_ROOT, '.cache', 'node')

/** The Node version tag of the Dockerfile's `ARG NODE_IMAGE=node:<version>-<suite>-slim`, e.g. `24.22`. */
export function imageNodeVersion (dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')) {
  const m = /^ARG NODE_IMAGE=node:(\d+(?:\.\d+){0,2})-[a-z]+-slim$/m.exec(dockerfile)
  if (m === null) throw new Error('the Dockerfile has no `ARG NODE_IMAGE=node:<version>-<suite>-slim`')
  return m[1]
}

/** The pinned versions: `{ shipped, oldest }`, exact (`24.22.3`). */
export function pinnedNodes () {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'scripts', 'test-node.json'), 'utf8'))
}

/** The pins, checked against the image: the shipped pin must carry the Dockerfile's version tag. */
export function testNodes () {
  const pins = pinnedNodes()
  const image = imageNodeVersion()
  if (!`${pins.shipped}.`.startsWith(`${image}.`)) {
    throw new Error(`scripts/test-node.json pins Node ${pins.shipped} as the shipped one, but the Dockerfile ships node:${image}`)
  }
  return pins
}

const majorOf = (version) => version.replace(/^v/, '').split('.')[0]

function runsAs (bin, version) {
  if (!existsSync(bin)) return false
  const run = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8' })
  return run.status === 0 && run.stdout.trim() === `v${version}`
}

function fetchNode (version, dir, log) {
  const spec = `node-${process.platform}-${process.arch}@${version}`
  log(`fetching Node ${version} (${spec} from the npm registry) into ${relative(REPO_ROOT, dir)}/`)
  const tmp = `${dir}.part-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  try {
    const pack = spawnSync('npm', ['pack', spec, '--pack-destination', tmp, '--silent'], { cwd: REPO_ROOT, encoding: 'utf8' })
    if (pack.status !== 0) throw new Error(`npm pack ${spec} failed: ${(pack.stderr || pack.stdout).trim()}`)
    const tarball = join(tmp, pack.stdout.trim().split('\n').pop())
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1', 'package/bin/node', 'package/LICENSE'],
      { encoding: 'utf8' })
    if (untar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.stderr.trim()}`)
    rmSync(tarball)
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** A node binary of `version`: this process's own when it is of that major, else the cached (or fetched) one. */
export function ensureNode (version, log = console.log) {
  if (majorOf(process.version) === majorOf(version)) return process.execPath
  const bin = join(CACHE, version, 'bin', 'node')
  if (!runsAs(bin, version)) fetchNode(version, join(CACHE, version), log)
  if (!runsAs(bin, version)) throw new Error(`${relative(REPO_ROOT, bin)} does not run as Node ${version}`)
  return bin
}

/** `env` for processes that must run on `bin`: its folder first on PATH (for `node`, `npx` and tools' shebangs). */
export function nodeEnv (bin, env = process.env) {
  const path = `${dirname(bin)}${delimiter}${env.PATH ?? ''}`
  const out = { ...env, PATH: path }
  for (const key of ['NODE', 'npm_node_execpath']) if (key in env) out[key] = bin
  return out
}

/** `v24.22.3, OpenSSL 3.5.9` of a node binary. */
export function describeNode (bin) {
  const run = spawnSync(bin, ['-p', 'process.version + ", OpenSSL " + process.versions.openssl'], { encoding: 'utf8' })
  return run.stdout.trim()
}
