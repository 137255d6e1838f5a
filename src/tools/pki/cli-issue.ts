// The issuing `certs` commands: demo, ca, intermediate, server, device.
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { createIntermediateCa, createRootCa, issueDeviceCert, issueServerCert } from './issue.js'
import { demoFiles, writeDemoPki } from './demo.js'
import {
  daysFromNow, keyType, list, loadCaFromFlags, positiveInt, required, str, writeOutputs,
  type CliIo, type Output, type Values
} from './cli-util.js'
import type { Issued } from './types.js'

const force = (v: Values): boolean => v.force === true

function describe (io: CliIo, what: string, issued: Issued): void {
  io.out(`${what}: ${issued.subject}, ${issued.keyType}, serial ${issued.serialHex}`)
  io.out(`  sha256 ${issued.fingerprint256}`)
}

export async function demo (v: Values, io: CliIo): Promise<void> {
  const layout = await writeDemoPki(required(v, 'out'), { force: force(v) })
  if (!layout.created) {
    io.out(`demo PKI already present in ${layout.dir} (use --force to regenerate)`)
    return
  }
  for (const file of demoFiles(layout)) io.out(`wrote ${file}${file.endsWith('.key') ? ' (mode 0600)' : ''}`)
  io.out(`server trusts devices via ${relative(layout.dir, layout.tenantCa.cert)}; ` +
    `devices trust the server via ${relative(layout.dir, layout.server.ca)}`)
}

export async function ca (v: Values, io: CliIo): Promise<void> {
  const out = required(v, 'out')
  const root = await createRootCa({
    cn: str(v, 'cn') ?? 'mtls-ambassador root CA',
    subject: str(v, 'subject'),
    keyType: keyType(v, 'ec'),
    rsaBits: positiveInt(v, 'rsa-bits'),
    notAfter: daysFromNow(v)
  })
  await writeOutputs(io, [
    { path: join(out, 'ca.pem'), pem: root.certPem },
    { path: join(out, 'ca.key'), pem: root.keyPem, secret: true }
  ], force(v))
  describe(io, 'root CA', root)
}

export async function intermediate (v: Values, io: CliIo): Promise<void> {
  const out = required(v, 'out')
  const parent = await loadCaFromFlags(v)
  const inter = await createIntermediateCa(parent, {
    cn: str(v, 'cn') ?? 'mtls-ambassador intermediate CA',
    subject: str(v, 'subject'),
    keyType: keyType(v, 'ec'),
    rsaBits: positiveInt(v, 'rsa-bits'),
    notAfter: daysFromNow(v)
  })
  await writeOutputs(io, [
    { path: join(out, 'ca.pem'), pem: inter.bundlePem },
    { path: join(out, 'ca.key'), pem: inter.keyPem, secret: true }
  ], force(v))
  describe(io, 'intermediate CA', inter)
}

export async function server (v: Values, io: CliIo): Promise<void> {
  const out = required(v, 'out')
  const given = { dns: list(v, 'dns'), ips: list(v, 'ip') }
  const san = given.dns.length + given.ips.length > 0 ? given : { dns: ['localhost'], ips: ['127.0.0.1'] }
  const issuer = await loadCaFromFlags(v)
  const cert = await issueServerCert(issuer, {
    cn: str(v, 'cn') ?? san.dns[0] ?? san.ips[0] ?? 'localhost',
    subject: str(v, 'subject'),
    ...san,
    keyType: keyType(v, 'ec'),
    rsaBits: positiveInt(v, 'rsa-bits'),
    notAfter: daysFromNow(v)
  })
  await writeOutputs(io, [
    { path: join(out, 'server.crt'), pem: cert.chainPem },
    { path: join(out, 'server.key'), pem: cert.keyPem, secret: true }
  ], force(v))
  describe(io, 'server', cert)
}

export async function device (v: Values, io: CliIo): Promise<void> {
  const out = required(v, 'out')
  const cn = required(v, 'cn')
  const keyFile = str(v, 'key')
  const issuer = await loadCaFromFlags(v)
  const cert = await issueDeviceCert(issuer, {
    cn,
    subject: str(v, 'subject'),
    keyType: keyFile === undefined || v['key-type'] !== undefined ? keyType(v, 'ec') : undefined,
    rsaBits: positiveInt(v, 'rsa-bits'),
    keyPem: keyFile === undefined ? undefined : await readFile(keyFile, 'utf8'),
    dns: list(v, 'san-dns'),
    ips: list(v, 'san-ip'),
    uris: list(v, 'san-uri'),
    emails: list(v, 'san-email'),
    notAfter: daysFromNow(v)
  })
  const outputs: Output[] = [{ path: join(out, 'device.crt'), pem: cert.chainPem }]
  if (keyFile === undefined) outputs.push({ path: join(out, 'device.key'), pem: cert.keyPem, secret: true })
  await writeOutputs(io, outputs, force(v))
  describe(io, 'device', cert)
}
