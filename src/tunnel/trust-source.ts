// A tunnel's trust source: its own certificate and key (a reverse tunnel's server certificate, a forward tunnel's
// client certificate), the CA bundle its peers must chain to, and the denylist and CRLs for peer certificates; and
// how a problem loading it is reported beside the other tunnels' (named by the tunnel).
import type { TunnelConfig } from '../config/model.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'
import type { TrustSource } from '../tls/trust.js'

export function tunnelTrustSource (t: DeepReadonly<TunnelConfig>): TrustSource {
  return {
    cert: t.cert,
    key: t.key,
    ca: t.ca,
    sni: [],
    graceSeconds: 0,
    tenants: [],
    denylist: t.blacklist_path,
    crlPaths: [...t.crl_paths],
    minVersion: t.tls_min_version,
    // problems name the tunnel's own keys: a forward tunnel's cert is a client certificate, its ca no tenant's
    labels: { cert: 'cert', key: 'key', ca: 'ca' }
  }
}

/** A tunnel's trust problem as one item of MTLS_ERR_TLS_MATERIAL's list: `tunnel <name>: <what failed>`. */
export function tunnelTrustProblem (name: string, err: unknown): string {
  return `tunnel ${name}: ${String((err as Error).message).replace(/^cannot load TLS material: /, '')}`
}
