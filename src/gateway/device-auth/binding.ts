// Identity binding: the identity a device claims (`id_data`) must be one the certificate vouches for. Each configured
// attribute present in `id_data` must equal the certificate CN or a SAN value (case-insensitive), and at least one of
// them must be present. Without binding, any valid certificate can register as any device.
export type BindingMode = 'off' | 'warn' | 'enforce'

export interface BindingResult {
  ok: boolean
  /** Attributes compared. */
  checked: string[]
  /** Attributes whose value the certificate does not carry (or, when none was present, the configured ones). */
  mismatched: string[]
}

export function parseBindingKeys (text: string): string[] {
  return text.split(',').map((k) => k.trim()).filter((k) => k !== '')
}

export function checkBinding (identity: Record<string, unknown>, certNames: string[], keys: string[]): BindingResult {
  const names = new Set(certNames.map((n) => n.toLowerCase()))
  const checked = keys.filter((k) => identity[k] !== undefined)
  if (checked.length === 0) return { ok: false, checked, mismatched: keys }
  const mismatched = checked.filter((k) => {
    const v = identity[k]
    return !((typeof v === 'string' || typeof v === 'number') && names.has(String(v).toLowerCase()))
  })
  return { ok: mismatched.length === 0, checked, mismatched }
}
