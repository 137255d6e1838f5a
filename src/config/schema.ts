// The configuration catalogue: every key with its MTLS_* environment name, type, default and meaning (the flat
// settings, drop-in compatible with Mender's ambassador). One table drives validation, env mapping, secret masking and
// the README's configuration table; model.ts turns the settings into the sectioned configuration the modes read.
import { Type, type TSchema, type TInteger, type Static } from '@sinclair/typebox'
import { TunnelSchema } from './tunnels.js'

interface Field<S extends TSchema = TSchema> { env: string, schema: S, doc: string, secret?: boolean }
const f = <S extends TSchema>(env: string, schema: S, doc: string, secret = false): Field<S> =>
  ({ env, schema, doc, secret })
const ms = (def: number, doc: string, env: string): Field<TInteger> => f(env, Type.Integer({ minimum: 0, default: def }), `${doc} (ms)`)

/** One extra tenant (YAML `tenants:` list, or MTLS_TENANTS as JSON); the top-level keys form the `default` tenant. */
export const TenantSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
  ca_pem: Type.String({ minLength: 1 }),
  mender_user: Type.String({ default: '' }),
  mender_pass: Type.String({ default: '' }),
  mender_token: Type.String({ default: '' }),
  sni: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  tenant_token: Type.String({ default: '' }),
  expired_grace: Type.Optional(Type.Integer({ minimum: 0 }))
}, { additionalProperties: false })

export const FIELDS = {
  listen: f('MTLS_LISTEN', Type.String({ default: '8080' }), 'mTLS listener: `port`, `:port` or `host:port`'),
  status_listen: f('MTLS_STATUS_LISTEN', Type.String({ default: '8081' }), 'plain-HTTP status listener (`/status`, `/healthz`, `/readyz`); `off` disables it'),
  mender_backend: f('MTLS_MENDER_BACKEND', Type.String({ default: '' }), 'Mender server base URL (`https://…`); the HTTP gateway runs when it is set, or when no tunnels are configured (then it is required)'),
  mender_user: f('MTLS_MENDER_USER', Type.String({ default: '' }), 'management user (email) the ambassador logs in as'),
  mender_pass: f('MTLS_MENDER_PASS', Type.String({ default: '' }), 'that user\'s password', true),
  mender_token: f('MTLS_MENDER_TOKEN', Type.String({ default: '' }), 'personal access token, instead of user/password', true),
  mender_cert: f('MTLS_MENDER_CERT', Type.String({ default: '' }), 'CA bundle (PEM file) that signs the Mender server\'s certificate; empty = system roots'),
  insecure_skip_verify: f('MTLS_INSECURE_SKIP_VERIFY', Type.Boolean({ default: false }), 'do not verify the Mender server\'s TLS certificate (testing only)'),
  server_cert: f('MTLS_SERVER_CERT', Type.String({ default: '/etc/mtls/certs/server/server.crt' }), 'server certificate chain (PEM) presented to devices'),
  server_key: f('MTLS_SERVER_KEY', Type.String({ default: '/etc/mtls/certs/server/server.key' }), 'server private key (PEM)'),
  tenant_ca_pem: f('MTLS_TENANT_CA_PEM', Type.String({ default: '/etc/mtls/certs/tenant-ca/tenant.ca.pem' }), 'CA bundle (PEM) device certificates must chain to'),
  https_tls_version_min: f('MTLS_HTTPS_TLS_VERSION_MIN', Type.Union([Type.Literal('1.2'), Type.Literal('1.3')], { default: '1.2' }), 'lowest TLS version accepted from devices'),
  http2: f('MTLS_HTTP2', Type.Boolean({ default: true }), 'offer HTTP/2 (`h2`) to devices over ALPN beside HTTP/1.1; `false`: HTTP/1.1 only (websockets always use HTTP/1.1)'),
  debug_log: f('MTLS_DEBUG_LOG', Type.Boolean({ default: false }), 'log at debug level (overrides `log_level`)'),
  log_level: f('MTLS_LOG_LEVEL', Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => Type.Literal(l)), { default: 'info' }), 'pino log level'),
  blacklist_path: f('MTLS_BLACKLIST_PATH', Type.String({ default: '' }), 'serial denylist file (one hex serial per line, `#` comments); empty = none; reloaded on change'),
  crl_paths: f('MTLS_CRL_PATHS', Type.String({ default: '' }), 'CRL files (PEM or DER) or folders of them, comma-separated or a YAML list, each signed by a tenant CA; reloaded on change'),
  crl_urls: f('MTLS_CRL_URLS', Type.String({ default: '' }), 'CRL distribution-point URLs (comma-separated or a YAML list) fetched at start and every `crl_fetch_interval` (last good copy kept)'),
  crl_fetch_interval: ms(3600000, 'interval between CRL fetches', 'MTLS_CRL_FETCH_INTERVAL'),
  crl_stale_policy: f('MTLS_CRL_STALE_POLICY', Type.Union([Type.Literal('keep'), Type.Literal('refuse')], { default: 'keep' }), 'a CRL past its nextUpdate: `keep` using it (and alarm) or `refuse` that issuer\'s devices'),
  expired_grace: f('MTLS_EXPIRED_GRACE', Type.Integer({ minimum: 0, default: 0 }), 'seconds an expired (or not yet valid) device certificate is still admitted, with a warning; 0 = off'),
  device_rsa_min_bits: f('MTLS_DEVICE_RSA_MIN_BITS', Type.Integer({ minimum: 1024, default: 2048 }), 'smallest RSA key (bits) accepted in device certificates; smaller ones are refused at the handshake (`MTLS_ERR_TLS_WEAK_KEY`)'),
  tenant_token: f('MTLS_TENANT_TOKEN', Type.String({ default: '' }), 'tenant token the default tenant\'s devices must send (multi-tenant Mender); empty = not checked', true),
  sni: f('MTLS_SNI', Type.String({ default: '' }), 'server names of the default tenant (comma-separated or a YAML list); empty = the default tenant takes every connection without a tenant\'s name'),
  tenants: f('MTLS_TENANTS', Type.Array(TenantSchema, { default: [] }), 'more tenants: `name`, `ca_pem`, `mender_user`/`mender_pass` or `mender_token`, `sni` (names), `tenant_token`, `expired_grace` (YAML list; JSON in the env)'),
  reload_watch: f('MTLS_RELOAD_WATCH', Type.Boolean({ default: true }), 'watch the certificate, CA, CRL and denylist folders and reload on change (SIGHUP always reloads)'),
  reload_retry_interval: ms(10000, 'retry interval after a failed reload (last good state kept meanwhile)', 'MTLS_RELOAD_RETRY_INTERVAL'),
  key_match: f('MTLS_KEY_MATCH', Type.Union([Type.Literal('strict'), Type.Literal('relaxed')], { default: 'strict' }), '`strict`: certificate key must equal the auth request key; `relaxed`: allow different keys (see README)'),
  identity_binding: f('MTLS_IDENTITY_BINDING', Type.Union([Type.Literal('off'), Type.Literal('warn'), Type.Literal('enforce')], { default: 'off' }), 'tie the claimed identity to the certificate: `enforce` refuses (403) an auth request whose `identity_binding_keys` values are not the certificate CN or a SAN value; `warn` only logs'),
  identity_binding_keys: f('MTLS_IDENTITY_BINDING_KEYS', Type.String({ default: 'mac,serial' }), '`id_data` attributes (comma-separated or a YAML list) checked by `identity_binding` (at least one must be present)'),
  forward_identity: f('MTLS_FORWARD_IDENTITY', Type.Boolean({ default: false }), 'send the verified certificate identity upstream in `X-Forwarded-Client-Cert` (inbound copies are always removed)'),
  auth_rate_limit: f('MTLS_AUTH_RATE_LIMIT', Type.Integer({ minimum: 0, default: 12 }), 'auth requests allowed per certificate per `auth_rate_window` (429 beyond); 0 disables'),
  auth_rate_window: ms(60000, 'window of `auth_rate_limit`', 'MTLS_AUTH_RATE_WINDOW'),
  listen_backlog: f('MTLS_LISTEN_BACKLOG', Type.Integer({ minimum: 1, maximum: 65535, default: 4096 }), 'pending connections the kernel queues before the gateway accepts them (capped by net.core.somaxconn); a fleet reconnecting at once overflows a short queue'),
  max_connections: f('MTLS_MAX_CONNECTIONS', Type.Integer({ minimum: 0, default: 10000 }), 'open device connections in total; 0 = unlimited; lowered at start to what the open-file limit carries, (limit − 64) / 2 (`MTLS_WARN_FD_LIMIT`)'),
  max_connections_per_ip: f('MTLS_MAX_CONNECTIONS_PER_IP', Type.Integer({ minimum: 0, default: 256 }), 'open connections per source address (mind carrier-grade NAT); 0 = unlimited'),
  max_event_loop_delay: ms(1000, 'event-loop delay above which requests get 503 + Retry-After (back-pressure); 0 disables', 'MTLS_MAX_EVENT_LOOP_DELAY'),
  preauth_force: f('MTLS_PREAUTH_FORCE', Type.Boolean({ default: true }), 'on 409 (identity exists) preauthorize again with `force: true` (key rotation, once-pending devices)'),
  preauth_cache_ttl: f('MTLS_PREAUTH_CACHE_TTL', Type.Integer({ minimum: 0, default: 3600 }), 'seconds a successful preauthorization of (identity, key) is remembered; 0 disables the cache'),
  preauth_cache_size: f('MTLS_PREAUTH_CACHE_SIZE', Type.Integer({ minimum: 1, default: 100000 }), 'most (identity, key) pairs remembered'),
  mgmt_concurrency: f('MTLS_MGMT_CONCURRENCY', Type.Integer({ minimum: 1, default: 16 }), 'management API calls (preauthorizations) in flight at once, all tenants together'),
  mgmt_queue_size: f('MTLS_MGMT_QUEUE_SIZE', Type.Integer({ minimum: 0, default: 1000 }), 'auth requests waiting for a management call slot; beyond it devices get 503 + Retry-After (`MTLS_ERR_MGMT_BUSY`)'),
  mgmt_queue_timeout: ms(10000, 'longest wait for a management call slot before 503 + Retry-After', 'MTLS_MGMT_QUEUE_TIMEOUT'),
  body_limit: f('MTLS_BODY_LIMIT', Type.Integer({ minimum: 1024, default: 65536 }), 'largest auth request body accepted (bytes); larger → 413'),
  upstream_connect_timeout: ms(5000, 'connect timeout towards Mender', 'MTLS_UPSTREAM_CONNECT_TIMEOUT'),
  upstream_headers_timeout: ms(30000, 'time for Mender to send response headers', 'MTLS_UPSTREAM_HEADERS_TIMEOUT'),
  upstream_body_timeout: ms(300000, 'idle time allowed between response body chunks from Mender', 'MTLS_UPSTREAM_BODY_TIMEOUT'),
  handshake_timeout: ms(10000, 'TLS handshake deadline for devices', 'MTLS_HANDSHAKE_TIMEOUT'),
  headers_timeout: ms(15000, 'time a device has to send request headers (slowloris guard)', 'MTLS_HEADERS_TIMEOUT'),
  request_timeout: ms(120000, 'time a device has to send a whole request', 'MTLS_REQUEST_TIMEOUT'),
  keep_alive_timeout: ms(65000, 'idle keep-alive connection lifetime', 'MTLS_KEEP_ALIVE_TIMEOUT'),
  shutdown_timeout: ms(15000, 'drain deadline on SIGTERM before connections are closed', 'MTLS_SHUTDOWN_TIMEOUT'),
  workers: f('MTLS_WORKERS', Type.String({ pattern: '^(auto|[1-9][0-9]{0,3})$', default: '1' }), 'worker processes sharing the listeners: a number, or `auto` (one per available core, capped by a CPU quota; 1 when a tunnel listens on a Unix or inherited socket); 1 = a single process (see [Workers](#workers))'),
  tunnels: f('MTLS_TUNNELS', Type.Array(TunnelSchema, { default: [] }), 'L4 mTLS tunnels (forward and reverse proxies), see [Tunnel mode](#tunnel-mode) (YAML list; JSON in the env)')
} as const satisfies Record<string, Field>

type Fields = typeof FIELDS
export type ConfigKey = keyof Fields

export const ConfigSchema = Type.Object(
  Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [k, v.schema])) as { [K in ConfigKey]: Fields[K]['schema'] },
  { additionalProperties: false }
)

/** The flat settings as validated: every key of FIELDS. */
export type Settings = Readonly<Static<typeof ConfigSchema>>

/** Keys shared by every mode; all others configure the HTTP gateway (tunnels have their own section). */
export const COMMON_KEYS = ['status_listen', 'debug_log', 'log_level', 'reload_watch', 'reload_retry_interval', 'shutdown_timeout', 'workers'] as const
export type CommonKey = typeof COMMON_KEYS[number]

/** Comma-separated lists in the environment; a YAML file may also give them as a list. */
export const LIST_KEYS: readonly ConfigKey[] = ['crl_paths', 'crl_urls', 'sni', 'identity_binding_keys']

export const SECRET_KEYS: readonly ConfigKey[] = (Object.keys(FIELDS) as ConfigKey[])
  .filter((k) => (FIELDS[k] as Field).secret === true)
