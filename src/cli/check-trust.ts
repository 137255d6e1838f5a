// `check-config`'s second half: loads the TLS material every configured mode would trust (certificates, keys, CA
// bundles, denylists, CRL files) exactly as the modes do at start, and throws MTLS_ERR_TLS_MATERIAL on any problem.
import { buildConfig } from '../config/model.js'
import type { Settings } from '../config/schema.js'
import { loadTrust } from '../tls/trust.js'
import { StartupErrors } from '../errors.js'
import { gatewayTrustSource } from '../gateway/trust-source.js'
import { tunnelTrustProblem, tunnelTrustSource } from '../tunnel/trust-source.js'

export async function checkTrust (settings: Settings): Promise<void> {
  const config = buildConfig(settings)
  if (config.gateway !== undefined) await loadTrust(gatewayTrustSource(config.gateway))
  // every tunnel is checked: the problems of all of them are reported at once, each naming its tunnel
  const problems: string[] = []
  for (const t of config.tunnels) {
    try {
      await loadTrust(tunnelTrustSource(t))
    } catch (err) {
      problems.push(tunnelTrustProblem(t.name, err))
    }
  }
  if (problems.length > 0) throw new StartupErrors.TLS_MATERIAL(problems.join('; '))
}
