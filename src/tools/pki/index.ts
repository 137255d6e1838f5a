// Certificate tooling: CAs, server and device certificates, CRLs, the demo PKI and the `certs` command.
export type { Ca, CaOptions, CrlOptions, DeviceCertOptions, Issued, KeyType, ServerCertOptions } from './types.js'
export { createIntermediateCa, createRootCa, issueDeviceCert, issueServerCert } from './issue.js'
export { DEFAULT_DAYS } from './certificate.js'
export { crlSerials, issueCrl } from './crl.js'
export { loadCa } from './load-ca.js'
export { normalizeSerial } from '../../x509/serial.js'
export { demoLayout, writeDemoPki, DEMO_DEVICES, type DemoDeviceName, type DemoPkiLayout } from './demo.js'
export { runCertsCli, CERTS_USAGE, type CliIo } from './cli.js'
