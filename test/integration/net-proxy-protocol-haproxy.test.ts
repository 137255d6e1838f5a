// PROXY protocol v2 against a real implementation, HAProxy: as a receiver (accept-proxy) it reads our addresses,
// authority and unique id and verifies our CRC-32C; as a sender (send-proxy-v2 with SSL options, after verifying a
// client certificate) its header is byte for byte the one our encoder makes from the same facts.
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mtlsTlvs, proxyV2Header, type ProxyHeaderInput, type Tlv } from '../../src/net/proxy-protocol.js'
import { ensureHaproxy, freePort, startHaproxy, type Haproxy } from '../support/haproxy.js'
import { tempDir } from '../support/net.js'
import { makeTestPki, type TestPki } from '../support/pki.js'
import { decodeProxyV2, tlvText } from '../support/proxy-v2-decoder.js'

let pki: TestPki
let dir: string
let cleanup: () => void
const running: Haproxy[] = []

beforeAll(async () => {
  ensureHaproxy()
  pki = await makeTestPki()
  ;({ dir, cleanup } = tempDir('net-haproxy-'))
}, 120_000)
afterAll(async () => {
  for (const h of running) await h.stop()
  await pki.cleanup()
  cleanup()
})

function customTlvs (): Tlv[] {
  const r = mtlsTlvs({ spkiSha256: Buffer.alloc(32, 1), sanUri: 'spiffe://example.org/d/1' })
  if (!r.ok) throw new Error(r.problem)
  return r.value
}

const header = (input: ProxyHeaderInput): Buffer => {
  const r = proxyV2Header(input)
  if (!r.ok) throw new Error(r.problem)
  return r.value
}

describe('HAProxy as the receiver (bind … accept-proxy)', () => {
  let sock: string
  beforeAll(async () => {
    sock = join(dir, 'pp.sock')
    const fetches = 'ci=%ci cp=%cp fi=%fi fp=%fp authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]'
    running.push(await startHaproxy(dir, `defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend pp
  bind unix@${sock} accept-proxy
  http-request return status 200 content-type text/plain lf-string "${fetches}"
`, { path: sock }))
  }, 30_000)

  /** Sends header + a request; resolves with HAProxy's answer body, or 'refused' when it drops the connection. */
  async function ask (h: Buffer): Promise<string> {
    return await new Promise((resolve) => {
      const c = net.connect({ path: sock })
      let out = ''
      c.on('data', (d: Buffer) => { out += d.toString() })
      c.on('error', () => {})
      c.on('close', () => resolve(out === '' ? 'refused' : out.split('\r\n\r\n')[1] ?? out))
      c.write(Buffer.concat([h, Buffer.from('GET / HTTP/1.0\r\n\r\n')]))
    })
  }

  const full: ProxyHeaderInput = {
    source: { kind: 'tcp', host: '192.0.2.1', port: 40000 },
    destination: { kind: 'tcp', host: '198.51.100.2', port: 8443 },
    alpn: 'dbus',
    authority: 'gateway.example',
    uniqueId: 'tunnel-7f3a',
    crc32c: true,
    ssl: { certOnConnection: true, certInSession: true, verified: true, version: 'TLSv1.3', cn: 'device-1', cipher: 'TLS_AES_128_GCM_SHA256' },
    custom: customTlvs()
  }

  it('reads the addresses, authority and unique id of a header carrying every TLV and a CRC-32C', async () => {
    expect(await ask(header(full)))
      .toBe('ci=192.0.2.1 cp=40000 fi=198.51.100.2 fp=8443 authority=gateway.example uid=tunnel-7f3a')
  })

  it('reads IPv6 and mixed-family headers', async () => {
    expect(await ask(header({ source: { kind: 'tcp', host: '2001:db8::7', port: 1 }, destination: { kind: 'tcp', host: '2001:db8::8', port: 2 } })))
      .toBe('ci=2001:db8::7 cp=1 fi=2001:db8::8 fp=2 authority= uid=')
    expect(await ask(header({ source: { kind: 'tcp', host: '::ffff:10.1.2.3', port: 3 }, destination: { kind: 'tcp', host: '2001:db8::8', port: 4 } })))
      .toBe('ci=::ffff:10.1.2.3 cp=3 fi=2001:db8::8 fp=4 authority= uid=')
  })

  it('verifies the CRC-32C: one changed byte in a custom TLV is refused, while without a CRC it passes', async () => {
    const tampered = header(full)
    tampered.writeUInt8((tampered.at(-1) ?? 0) ^ 0x01, tampered.length - 1)
    expect(await ask(tampered)).toBe('refused')
    const plain = header({ ...full, crc32c: false })
    plain.writeUInt8((plain.at(-1) ?? 0) ^ 0x01, plain.length - 1)
    expect(await ask(plain)).toContain('authority=gateway.example')
  })

  it('uses the real connection for LOCAL', async () => {
    expect(await ask(header({ command: 'LOCAL' }))).toBe('ci=unix cp=1 fi=unix fp=1 authority= uid=')
  })
})

describe('HAProxy as the sender (send-proxy-v2 with proxy-v2-options ssl,…)', () => {
  it('sends, after a verified client certificate, exactly the header our encoder makes from the same facts', async () => {
    let captured = Buffer.alloc(0)
    let gotAll: () => void = () => {}
    const done = new Promise<void>((resolve) => { gotAll = resolve })
    const backend = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        captured = Buffer.concat([captured, d])
        if (captured.length >= 16 && captured.length >= 16 + captured.readUInt16BE(14) + 5) gotAll()
      })
    })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    const backendPort = (backend.address() as net.AddressInfo).port
    const front = await freePort()
    const crt = join(dir, 'server-with-key.pem')
    writeFileSync(crt, pki.server.chainPem + pki.server.keyPem)
    running.push(await startHaproxy(dir, `defaults
  mode tcp
  timeout client 5s
  timeout server 5s
  timeout connect 5s
  unique-id-format tunnel-42
frontend tls
  bind 127.0.0.1:${front} ssl crt ${crt} ca-file ${pki.trust.path} verify required alpn dbus
  default_backend be
backend be
  server s1 127.0.0.1:${backendPort} send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id
`, { host: '127.0.0.1', port: front }))
    const client = tls.connect({
      host: '127.0.0.1',
      port: front,
      servername: 'localhost',
      ca: pki.root.certPem,
      ALPNProtocols: ['dbus'],
      key: pki.devices.ec.keyPem,
      cert: pki.devices.ec.certPem
    })
    await new Promise((resolve) => client.once('secureConnect', resolve))
    client.write('hello')
    await done
    const theirs = captured.subarray(0, 16 + captured.readUInt16BE(14))
    expect(captured.subarray(theirs.length).toString()).toBe('hello')

    const d = decodeProxyV2(theirs)
    const sub = (type: number): string | undefined => tlvText(d.ssl?.subs ?? [], type)
    // the facts, from the client's own view of the connection
    expect(d.srcPort).toBe(client.localPort)
    expect([sub(0x21), sub(0x22), sub(0x23)]).toEqual([client.getProtocol(), 'ec', client.getCipher().standardName])
    expect([tlvText(d.tlvs, 0x01), tlvText(d.tlvs, 0x02), tlvText(d.tlvs, 0x05)]).toEqual(['dbus', 'localhost', 'tunnel-42'])
    const ours = header({
      source: { kind: 'tcp', host: '127.0.0.1', port: client.localPort ?? 0 },
      destination: { kind: 'tcp', host: '127.0.0.1', port: front },
      alpn: 'dbus',
      authority: 'localhost',
      uniqueId: 'tunnel-42',
      crc32c: true,
      ssl: {
        certOnConnection: ((d.ssl?.client ?? 0) & 0x02) !== 0,
        certInSession: ((d.ssl?.client ?? 0) & 0x04) !== 0,
        verified: d.ssl?.verify === 0,
        version: sub(0x21),
        cn: sub(0x22),
        cipher: sub(0x23),
        sigAlg: sub(0x24),
        keyAlg: sub(0x25)
      }
    })
    expect(d.ssl?.verify).toBe(0)
    expect(ours.toString('hex')).toBe(theirs.toString('hex'))
    client.destroy()
    await new Promise((resolve) => backend.close(resolve))
  }, 30_000)
})
