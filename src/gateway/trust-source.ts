// The gateway's trust source, from its configuration: the server certificate devices see, the tenant CA bundles
// (the default one with its server names and grace window, then each tenant's), the denylist and CRL files.
import type { GatewayConfig } from '../config/model.js'
import type { TrustSource } from '../tls/trust.js'
import type { DeepReadonly } from '../lib/deep-freeze.js'

export function gatewayTrustSource (g: DeepReadonly<GatewayConfig>): TrustSource {
  return {
    cert: g.server_cert,
    key: g.server_key,
    ca: g.tenant_ca_pem,
    sni: [...g.sni],
    graceSeconds: g.expired_grace,
    tenants: g.tenants.map((t) => ({
      name: t.name, ca: t.ca_pem, sni: [...t.sni], graceSeconds: t.expired_grace ?? g.expired_grace
    })),
    denylist: g.blacklist_path,
    crlPaths: [...g.crl_paths],
    minVersion: g.https_tls_version_min
  }
}
