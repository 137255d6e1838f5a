// A .dockerignore matcher with docker's semantics: patterns are matched in order against a path and its parent
// folders, `*` and `?` stay within one path segment, `**` spans any number of them, `!` re-includes, last match wins.
import { posix } from 'node:path'

interface Rule { negate: boolean, re: RegExp }

function toRegExp (pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '*' && pattern[i + 1] === '*') {
      i++
      if (pattern[i + 1] === '/') {
        i++
        re += '(.*/)?'
      } else {
        re += '.*'
      }
    } else if (c === '*') {
      re += '[^/]*'
    } else if (c === '?') {
      re += '[^/]'
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
  }
  return new RegExp(`^${re}$`)
}

function rules (text: string): Rule[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!')
    const cleaned = posix.normalize(negate ? l.slice(1).trim() : l).replace(/^\/+/, '').replace(/\/+$/, '')
    return { negate, re: toRegExp(cleaned) }
  })
}

function parents (path: string): string[] {
  const parts = path.split('/')
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}

/** A predicate: true when docker would send `path` (relative, `/`-separated) as part of the build context. */
export function dockerignoreFilter (text: string): (path: string) => boolean {
  const list = rules(text)
  return (path: string): boolean => {
    let excluded = false
    const candidates = parents(path)
    for (const rule of list) {
      if (candidates.some((p) => rule.re.test(p))) excluded = !rule.negate
    }
    return !excluded
  }
}
