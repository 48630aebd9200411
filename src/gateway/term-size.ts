/** The largest terminal the gateway passes on and records: wider than any real screen, small enough for a browser. */
export const MAX_COLS = 1000;
export const MAX_ROWS = 1000;
const MAX_PIXELS = 65_535; // a kernel winsize field is 16 bits

export interface TermSize {
  cols: number;
  rows: number;
  width: number;
  height: number;
}

/**
 * A terminal size from an agent's pty-req or window-change (RFC 4254 §6.2, §6.7): zero means
 * unknown and is ignored (RFC 4254 §6.2), so it and anything not a whole number become the
 * fallback; sizes past the limits are cut to them. An agent could otherwise ask for a terminal
 * of 4,294,967,295 columns, which the recording would keep and an auditor's player would try
 * to draw.
 */
export function termSize(
  info: { cols?: unknown; rows?: unknown; width?: unknown; height?: unknown },
  fallback: { cols: number; rows: number; width?: number; height?: number } = { cols: 80, rows: 24 },
): TermSize {
  const dim = (v: unknown, max: number, dflt: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? Math.min(v, max) : dflt);
  return {
    cols: dim(info.cols, MAX_COLS, fallback.cols),
    rows: dim(info.rows, MAX_ROWS, fallback.rows),
    width: dim(info.width, MAX_PIXELS, fallback.width ?? 0),
    height: dim(info.height, MAX_PIXELS, fallback.height ?? 0),
  };
}

/** Whether a size (e.g. read back from a recording) is one the gateway could have passed on. */
export function isSaneSize(cols: unknown, rows: unknown): boolean {
  const ok = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
  return ok(cols, MAX_COLS) && ok(rows, MAX_ROWS);
}
