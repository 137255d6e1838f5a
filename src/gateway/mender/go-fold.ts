// How Mender's Go code folds case: ASCII's own case, and the non-ASCII runes Go maps to an ASCII letter
// (unicode.ToUpper(unicode.ToLower(r))). Used where the gateway must read a name as Go would: the auth body's keys
// (encoding/json) and spellings of the auth path (a Go router that matches paths case-insensitively).

/**
 * The non-ASCII runes Go folds to an ASCII letter. `stable`: every Go version matches them (Kelvin sign and long s
 * are special-cased since Go 1.0); dotted and dotless i match only since Go 1.21's foldName, so the reading of a key
 * holding them depends on the Go build of Mender.
 */
export const GO_FOLDS = new Map<string, { letter: string, stable: boolean }>([
  ['\u0130', { letter: 'I', stable: false }],
  ['\u0131', { letter: 'I', stable: false }],
  ['\u017F', { letter: 'S', stable: true }],
  ['\u212A', { letter: 'K', stable: true }]
])

/** `text` upper-cased as Go folds it: ASCII letters and the runes of GO_FOLDS; other runes as they are. */
export function goFoldUpper (text: string): { folded: string, stable: boolean } {
  let folded = ''
  let stable = true
  for (const ch of text) {
    const special = GO_FOLDS.get(ch)
    if (special !== undefined) stable &&= special.stable
    folded += special?.letter ?? (ch < '\u0080' ? ch.toUpperCase() : ch)
  }
  return { folded, stable }
}
