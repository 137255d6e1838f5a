// User and group names to numeric ids for Unix socket ownership. Node has no getpwnam(3): names are looked up in
// the local /etc/passwd and /etc/group files only (no NSS: LDAP or sssd users need numeric ids).
import { readFile } from 'node:fs/promises'

export type Id = string | number
export type Resolved = { ok: true, id: number } | { ok: false, problem: string }

/** Largest valid uid/gid; (uid_t)-1 means "unchanged" to chown(2) and is refused. */
const ID_MAX = 0xfffffffe

/** Finds `name` in passwd/group file text (`name:x:id:...`); the id is the third field. */
export function lookupIdInFile (text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':')
    if (fields.length < 3 || fields[0] !== name) continue
    const id = fields[2] ?? ''
    if (/^[0-9]+$/.test(id) && Number(id) <= ID_MAX) return Number(id)
  }
  return undefined
}

/** A numeric id as given, a digit string as a number, or a name looked up in `file`. */
export async function resolveId (id: Id, file: string, what: 'user' | 'group'): Promise<Resolved> {
  if (typeof id === 'number') {
    const valid = Number.isInteger(id) && id >= 0 && id <= ID_MAX
    return valid ? { ok: true, id } : { ok: false, problem: `${what} id ${id} is invalid` }
  }
  if (/^[0-9]+$/.test(id)) return await resolveId(Number(id), file, what)
  if (id === '' || id.includes(':') || id.includes('\n')) {
    return { ok: false, problem: `${what} name '${id}' is invalid` }
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    return { ok: false, problem: `cannot read ${file} to look up ${what} '${id}': ${(err as Error).message}` }
  }
  const found = lookupIdInFile(text, id)
  if (found === undefined) return { ok: false, problem: `unknown ${what} '${id}' (not in ${file})` }
  return { ok: true, id: found }
}
