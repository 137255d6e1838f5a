// Vitest fixtures for the setup most gateway suites share, one of each per test file: a test PKI with a Mender
// simulator (`backend`), a gateway in front of it (`gateway`), and a device agent presenting the EC device
// certificate (`device`). Cleaned up in reverse order after the file's last test.
import { test } from 'vitest'
import type { Agent } from 'undici'
import { openBackend, startGateway } from './gateway.js'
import { deviceAgent } from './device.js'

export const gatewayTest = test
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  .extend('backend', { scope: 'file' }, async ({}, { onCleanup }) => {
    const backend = await openBackend()
    onCleanup(async () => { await backend.close() })
    return backend
  })
  .extend('gateway', { scope: 'file' }, async ({ backend }, { onCleanup }) => {
    const gateway = await startGateway({ pki: backend.pki, backendUrl: backend.sim.url })
    onCleanup(async () => { await gateway.close() })
    return gateway
  })
  .extend('device', { scope: 'file' }, async ({ backend }, { onCleanup }) => {
    const agent: Agent = deviceAgent(backend.pki, backend.pki.devices.ec)
    onCleanup(async () => { await agent.close() })
    return agent
  })
