// Loading a CA from PEM (a lone certificate or a bundle in any order, keys in any PEM format) and issuing from it.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { createIntermediateCa, createRootCa, issueDeviceCert, loadCa, type Ca } from '../../src/tools/pki/index.js'

let root: Ca
let inter: Ca

beforeAll(async () => {
  root = await createRootCa({ cn: 'load root' })
  inter = await createIntermediateCa(root, { cn: 'load intermediate' })
})

describe('loadCa', () => {
  it('loads a root from its certificate and key', async () => {
    expect((await loadCa(root.certPem, root.keyPem)).serialHex).toBe(root.serialHex)
  })

  it('picks the certificate matching the key out of a root-first bundle', async () => {
    expect((await loadCa(inter.bundlePem, inter.keyPem)).serialHex).toBe(inter.serialHex)
  })

  it('picks the certificate matching the key out of a leaf-first bundle', async () => {
    expect((await loadCa(inter.certPem + root.certPem, inter.keyPem)).serialHex).toBe(inter.serialHex)
  })

  it('finds the issuers above the CA in the bundle', async () => {
    expect((await loadCa(inter.certPem + root.certPem, inter.keyPem)).bundlePem).toBe(inter.bundlePem)
  })

  it('keeps the chain without the root', async () => {
    expect((await loadCa(inter.bundlePem, inter.keyPem)).chainPem).toBe(inter.chainPem)
  })

  it('accepts an EC key in SEC1 form', async () => {
    const sec1 = createPrivateKey(root.keyPem).export({ type: 'sec1', format: 'pem' }).toString()
    expect((await loadCa(root.certPem, sec1)).keyPem).toBe(root.keyPem)
  })

  it('issues devices that chain through the loaded intermediate', async () => {
    const loaded = await loadCa(inter.bundlePem, inter.keyPem)
    const device = await issueDeviceCert(loaded, { cn: 'from-disk' })
    expect(new X509Certificate(device.certPem).checkIssued(new X509Certificate(inter.certPem))).toBe(true)
  })

  it('gives devices of the loaded intermediate a chain file holding it', async () => {
    const device = await issueDeviceCert(await loadCa(inter.bundlePem, inter.keyPem), { cn: 'chain' })
    expect(device.chainPem).toBe(device.certPem + inter.certPem)
  })

  it('refuses a key that matches no certificate', async () => {
    await expect(loadCa(root.certPem, inter.keyPem)).rejects.toThrow(/matches no certificate/)
  })

  it('refuses a certificate that is not a CA', async () => {
    const device = await issueDeviceCert(root, { cn: 'leaf' })
    await expect(loadCa(device.certPem, device.keyPem)).rejects.toThrow(/not a CA/)
  })

  it('refuses a file without certificates', async () => {
    await expect(loadCa(root.keyPem, root.keyPem)).rejects.toThrow(/no certificate/)
  })
})
