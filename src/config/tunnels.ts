// The `tunnels:` section (MTLS_TUNNELS as JSON): L4 mTLS tunnels, each a forward proxy (plain local listener →
// mTLS client to a remote) or a reverse proxy (mTLS listener → plain local target), validated with the rest.
import { Type, type Static, type TArray, type TInteger, type TString } from '@sinclair/typebox'

const ms = (def: number, doc: string): TInteger => Type.Integer({ minimum: 0, default: def, description: `${doc} (ms)` })
const list = (doc: string): TArray<TString> =>
  Type.Array(Type.String({ minLength: 1 }), { default: [], description: doc })

export const TunnelSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'name in logs and metrics' }),
  mode: Type.Union([Type.Literal('forward'), Type.Literal('reverse')], { description: '`forward`: plain listener → mTLS out; `reverse`: mTLS listener → plain target' }),
  listen: Type.String({ minLength: 1, description: '`unix:/path`, `host:port` (forward default host 127.0.0.1), `systemd:NAME` or `fd:N`' }),
  connect: Type.String({ minLength: 1, description: '`host:port` (forward: the remote reverse proxy) or `unix:/path` / `host:port` (reverse: the target)' }),
  cert: Type.String({ minLength: 1, description: 'this node\'s certificate chain (PEM)' }),
  key: Type.String({ minLength: 1, description: 'its private key (PEM)' }),
  ca: Type.String({ minLength: 1, description: 'CA bundle (PEM) the peer\'s certificate must chain to' }),
  server_name: Type.String({ default: '', description: 'forward: SNI and the name the server certificate must carry (DNS or IP SAN); empty = the connect host' }),
  server_uri: Type.String({ default: '', description: 'forward: a SAN URI (e.g. a SPIFFE ID) the server certificate must carry instead of a name' }),
  allow_all: Type.Boolean({ default: false, description: 'reverse: admit any certificate of the CA (otherwise at least one allow_* rule must match)' }),
  allow_cn: list('reverse: admitted subject common names'),
  allow_ou: list('reverse: admitted subject organisational units'),
  allow_dns: list('reverse: admitted SAN DNS names'),
  allow_uri: list('reverse: admitted SAN URIs (SPIFFE IDs)'),
  allow_ip: list('reverse: admitted SAN IP addresses'),
  allow_spki_sha256: list('reverse: admitted public keys, as hex SHA-256 of the SPKI DER'),
  proxy_protocol: Type.Boolean({ default: false, description: 'reverse, TCP targets: send a PROXY protocol v2 header with the verified identity' }),
  tls_min_version: Type.Union([Type.Literal('1.2'), Type.Literal('1.3')], { default: '1.3', description: 'lowest TLS version' }),
  unix_mode: Type.String({ pattern: '^0?[0-7]{3}$', default: '0660', description: 'permissions of a Unix listening socket' }),
  unix_owner: Type.String({ default: '', description: 'owner (name or uid) of a Unix listening socket; empty = the process\'s' }),
  unix_group: Type.String({ default: '', description: 'group (name or gid) of a Unix listening socket; empty = the process\'s' }),
  max_connections: Type.Integer({ minimum: 0, default: 1000, description: 'open connections in total; 0 = unlimited' }),
  max_connections_per_ip: Type.Integer({ minimum: 0, default: 0, description: 'open connections per source address; 0 = unlimited' }),
  connect_timeout: ms(5000, 'time to connect to the target or remote'),
  handshake_timeout: ms(10000, 'TLS handshake deadline'),
  idle_timeout: ms(0, 'a connection with no bytes either way for this long is closed; 0 = never'),
  close_timeout: ms(0, 'after one side closed its write side, time the other gets to finish; 0 = unlimited'),
  blacklist_path: Type.String({ default: '', description: 'serial denylist file for peer certificates' }),
  crl_paths: list('CRL files or folders for peer certificates'),
  crl_urls: list('CRL distribution-point URLs for peer certificates'),
  crl_stale_policy: Type.Union([Type.Literal('keep'), Type.Literal('refuse')], { default: 'keep', description: 'a CRL past its nextUpdate: keep it or refuse' })
}, { additionalProperties: false })

export type TunnelSettings = Static<typeof TunnelSchema>
