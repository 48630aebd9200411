/** An error as one log value: `CODE: message` when it has a code (a system error), else its message. */
export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}
