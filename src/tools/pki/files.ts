// Writing PKI material to disk: certificates world-readable, private keys owner-only (0600), folders created.
import { access, chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

async function write (path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, text, { mode })
  await chmod(path, mode)
}

/** Writes a private key readable by its owner only. */
export async function writeKeyFile (path: string, pem: string): Promise<void> {
  await write(path, pem, 0o600)
}

/** Writes a certificate, chain, bundle or CRL. */
export async function writeCertFile (path: string, pem: string): Promise<void> {
  await write(path, pem, 0o644)
}

export async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/** The subset of `paths` that exist already. */
export async function existing (paths: string[]): Promise<string[]> {
  const found = await Promise.all(paths.map(exists))
  return paths.filter((_, i) => found[i])
}
