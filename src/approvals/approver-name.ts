/** A name an approver may be recorded under (`--as`, `?as=`, the API's `as`): printable, at most 128 characters. */
export function isValidApproverName(s: unknown): s is string {
  // eslint-disable-next-line no-control-regex
  return typeof s === 'string' && s.length > 0 && s.length <= 128 && s.trim() === s && !/[\u0000-\u001f\u007f-\u009f]/.test(s);
}

/** A decision reason: free text, one line, bounded. */
export function isValidReason(s: unknown): s is string {
  // eslint-disable-next-line no-control-regex
  return typeof s === 'string' && s.length <= 1000 && !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s);
}
