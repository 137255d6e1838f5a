// The PROXY protocol v2 header a reverse tunnel sends a TCP target before the first byte: the client's address, the
// tunnel's own, and the verified identity in TLVs (TLS version, cipher, CN, SNI, the SPKI SHA-256 and a URI SAN).
import { createHash } from 'node:crypto'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { isIP } from 'node:net'
import { mtlsTlvs, proxyV2Header, type ProxyEndpoint } from '../net/proxy-protocol.js'
import { peerSpki, type PeerIdentity } from '../tls/peer.js'
import { subjectAltNames } from '../x509/der.js'

function endpoint (address: string | undefined, port: number | undefined): ProxyEndpoint | undefined {
  if (address === undefined || port === undefined || isIP(address) === 0) return undefined
  return { kind: 'tcp', host: address, port }
}

/** The header for one admitted connection (a LOCAL header when the addresses cannot be told). */
export function proxyHeaderFor (socket: TLSSocket, peer: PeerIdentity, out: Socket): Buffer {
  const source = endpoint(socket.remoteAddress, socket.remotePort)
  const destination = endpoint(socket.localAddress, socket.localPort) ?? endpoint(out.remoteAddress, out.remotePort)
  const spki = createHash('sha256').update(peerSpki(peer)).digest()
  const uri = subjectAltNames(peer.cert.raw)?.uri[0]
  const custom = mtlsTlvs({ spkiSha256: spki, ...(uri !== undefined ? { sanUri: uri } : {}) })
  const servername = typeof socket.servername === 'string' ? socket.servername : undefined
  const header = proxyV2Header({
    ...(source !== undefined && destination !== undefined ? { source, destination } : { command: 'LOCAL' as const }),
    ...(servername !== undefined ? { authority: servername } : {}),
    ssl: {
      certOnConnection: !socket.isSessionReused(),
      certInSession: true,
      verified: true,
      version: socket.getProtocol() ?? undefined,
      cn: peer.cn === '' ? undefined : peer.cn,
      cipher: socket.getCipher()?.name
    },
    custom: custom.ok ? custom.value : []
  })
  if (header.ok) return header.value
  // an identity that does not fit (a CN too long for a TLV, …) still gets the addresses, never an unchecked header
  const plain = proxyV2Header(source !== undefined && destination !== undefined ? { source, destination } : { command: 'LOCAL' })
  return plain.ok ? plain.value : Buffer.alloc(0)
}
