// Public surface of the Mender simulator: a real HTTP(S) Mender look-alike for tests, the demo and compose,
// following mender-api/ and the Mender contract, with inspection and fault knobs.
export type * from './types.js'
export { startSimulator } from './start.js'
export { runSimulatorCli, parseSimulatorArgs } from './cli.js'
export { FAULT_GROUPS } from './faults.js'
export { decodeJwtClaims } from './jwt.js'
export { DEFAULT_USER } from './context.js'
