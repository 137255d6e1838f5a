// The `certs revoke` command: serials go into a denylist file (one lowercase hex serial a line) and/or a CRL
// signed by the CA, re-issued with every serial it already listed, the denylist's and the new ones.
import { readFile, writeFile } from 'node:fs/promises'
import { crlSerials, issueCrl } from './crl.js'
import { exists, writeCertFile } from './files.js'
import { normalizeSerial } from '../../x509/serial.js'
import { list, loadCaFromFlags, positiveInt, str, UsageError, type CliIo, type Values } from './cli-util.js'

/** Serials listed in a denylist file; blank lines and `#` comments are ignored. */
export async function readDenylist (path: string): Promise<string[]> {
  if (!await exists(path)) return []
  const lines = (await readFile(path, 'utf8')).split('\n').map((l) => l.replace(/#.*/, '').trim())
  return lines.filter((l) => l !== '').map(normalizeSerial)
}

async function appendDenylist (path: string, serials: string[], io: CliIo): Promise<void> {
  const known = new Set(await readDenylist(path))
  const added = serials.filter((s) => !known.has(s))
  const before = await exists(path) ? await readFile(path, 'utf8') : ''
  const separator = before === '' || before.endsWith('\n') ? '' : '\n'
  await writeFile(path, before + separator + added.map((s) => s + '\n').join(''), { mode: 0o644 })
  io.out(`denylist ${path}: ${added.length} added, ${known.size + added.length} listed`)
}

async function reissueCrl (path: string, serials: string[], v: Values, io: CliIo): Promise<void> {
  const ca = await loadCaFromFlags(v)
  const previous = await exists(path) ? crlSerials(await readFile(path, 'utf8')) : []
  const denylist = str(v, 'denylist')
  const listed = denylist === undefined ? [] : await readDenylist(denylist)
  const all = [...new Set([...previous, ...listed, ...serials])]
  const days = positiveInt(v, 'crl-days') ?? 30
  const thisUpdate = new Date()
  const nextUpdate = new Date(thisUpdate.getTime() + days * 24 * 3600 * 1000)
  await writeCertFile(path, await issueCrl(ca, { revokedSerials: all, thisUpdate, nextUpdate }))
  io.out(`crl ${path}: ${all.length} revoked, issued by ${ca.subject}, next update ${nextUpdate.toISOString()}`)
}

export async function revoke (v: Values, io: CliIo): Promise<void> {
  const serials = list(v, 'serial').map((s) => {
    try {
      return normalizeSerial(s)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
  })
  const denylist = str(v, 'denylist')
  const crl = str(v, 'crl')
  if (denylist === undefined && crl === undefined) throw new UsageError('give --denylist FILE and/or --crl FILE')
  if (serials.length === 0 && crl === undefined) throw new UsageError('--serial is required')
  if (denylist !== undefined) await appendDenylist(denylist, serials, io)
  if (crl !== undefined) await reissueCrl(crl, serials, v, io)
}
