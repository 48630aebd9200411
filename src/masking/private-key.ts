/** `-----BEGIN … PRIVATE KEY-----`: masking runs from the end of this marker to the matching END marker. */
export const BEGIN_MARKER = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----/y;

export function endMarkerFor(label: string): string {
  return `-----END ${label}-----`;
}

/** Length of the longest tail of `text` that could be the start of `marker` (held back until it is decided). */
export function markerPrefixAtEnd(text: string, marker: string): number {
  for (let k = Math.min(marker.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(marker.slice(0, k))) return k;
  }
  return 0;
}
