// The one HTTP client towards Mender, shared by the proxy, the auth interceptor and the management client:
// upstream TLS verified by default (system roots or the configured CA), connect/headers/body timeouts.
import { readFileSync } from 'node:fs'
import { Agent } from 'undici'
import type { GatewayConfig } from '../../config/model.js'

export interface UpstreamTls { ca?: string, rejectUnauthorized: boolean }

export function upstreamTls (config: Pick<GatewayConfig, 'mender_cert' | 'insecure_skip_verify'>): UpstreamTls {
  return {
    ...(config.mender_cert !== '' ? { ca: readFileSync(config.mender_cert, 'utf8') } : {}),
    rejectUnauthorized: !config.insecure_skip_verify
  }
}

export function createUpstreamAgent (
  config: Pick<GatewayConfig, 'upstream_connect_timeout' | 'upstream_headers_timeout' | 'upstream_body_timeout'>,
  tls: UpstreamTls
): Agent {
  return new Agent({
    connect: { ...tls, timeout: config.upstream_connect_timeout },
    headersTimeout: config.upstream_headers_timeout,
    bodyTimeout: config.upstream_body_timeout,
    keepAliveTimeout: 30_000
  })
}
