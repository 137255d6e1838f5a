// Starts a real gateway in-process on port 0 (mTLS listener + status listener) against a backend URL, with every
// log line captured as parsed JSON so tests can assert reason codes.
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/load.js'
import type { ConfigKey } from '../../src/config/schema.js'
import type { Config } from '../../src/config/model.js'
import { createLogger } from '../../src/observe/logger.js'
import { startServer, type Running } from '../../src/server.js'
import type { ReloadResult } from '../../src/tls/reloader.js'
import { metricValue } from './metrics.js'
import { makeTestPki, type TestPki } from './pki.js'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/tools/simulator/index.js'
import type { Agent } from 'undici'
import { authRequest, deviceAgent, postAuth } from './device.js'

export interface LogRecord { level: string, msg: string, code?: string, event?: string, [k: string]: unknown }

export interface GatewayHandle {
  url: string
  port: number
  statusUrl: string
  config: Config
  logs: LogRecord[]
  running: Running
  /** Log records having this code. */
  withCode: (code: string) => LogRecord[]
  /** What SIGHUP does; the outcome of the gateway's trust reload. */
  reload: () => Promise<ReloadResult>
  /** The value of a metric on the status listener (undefined when it has no such series). */
  metric: (name: string, labels?: Record<string, string>) => Promise<number | undefined>
  close: () => Promise<void>
}

export const TEST_USER = { email: 'mtls@example.com', password: 'correcthorsebatterystaple' }

export class LogCapture extends Writable {
  readonly records: LogRecord[] = []
  override _write (chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') this.records.push(JSON.parse(line) as LogRecord)
    }
    cb()
  }
}

export interface StartGatewayOptions {
  pki: TestPki
  backendUrl: string
  overrides?: Partial<Record<ConfigKey, unknown>>
}

export async function startGateway (o: StartGatewayOptions): Promise<GatewayHandle> {
  const config = loadConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      status_listen: '127.0.0.1:0',
      mender_backend: o.backendUrl,
      mender_user: TEST_USER.email,
      mender_pass: TEST_USER.password,
      server_cert: o.pki.server.chainPath,
      server_key: o.pki.server.keyPath,
      tenant_ca_pem: o.pki.trust.path,
      mender_cert: o.pki.root.certPath,
      log_level: 'debug',
      shutdown_timeout: 2000,
      // functional suites send many auth requests per certificate; the limit has its own tests
      auth_rate_limit: 0,
      // test processes stall on key generation and parallel suites; back-pressure has its own test
      max_event_loop_delay: 0,
      ...o.overrides
    }
  })
  const capture = new LogCapture()
  const running = await startServer(config, createLogger(config.common, capture))
  const url = running.url.replace('127.0.0.1', 'localhost')
  return {
    url,
    port: Number(new URL(url).port),
    statusUrl: running.statusUrl ?? '',
    config,
    logs: capture.records,
    running,
    withCode: (code) => capture.records.filter((r) => r.code === code),
    reload: async () => (await running.reload('test'))[0] as ReloadResult,
    metric: async (name, labels) => await metricValue(running.statusUrl ?? '', name, labels),
    close: async () => await running.stop()
  }
}

export interface Backend { pki: TestPki, sim: Simulator, close: () => Promise<void> }

/** A fresh test PKI and a Mender simulator for one test file; `close` stops the simulator and removes the PKI. */
export async function openBackend (simOptions?: SimulatorOptions): Promise<Backend> {
  const pki = await makeTestPki()
  const sim = await startSimulator(simOptions)
  return { pki, sim, close: async () => { await sim.close(); await pki.cleanup() } }
}

/** A backend, a gateway in front of it and the `ec` test device admitted through it (its agent and Mender JWT). */
export interface AdmittedSetup extends Backend {
  gw: GatewayHandle
  agent: Agent
  jwt: string
}

/** Opens a backend and a gateway and admits the `ec` device (identity `{ mac }`); `close` ends all of it. */
export async function openAdmitted (mac: string): Promise<AdmittedSetup> {
  const backend = await openBackend()
  const gw = await startGateway({ pki: backend.pki, backendUrl: backend.sim.url })
  const agent = deviceAgent(backend.pki, backend.pki.devices.ec)
  const jwt = (await postAuth(agent, gw.url, authRequest(backend.pki.devices.ec.keyPem, { mac }))).text
  const close = async (): Promise<void> => {
    await agent.close()
    await gw.close()
    await backend.close()
  }
  return { ...backend, gw, agent, jwt, close }
}
