/** A verified caller. Built only from a token whose signature, issuer, audience and times checked out. */
export interface Identity {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly issuer: string;
  /** The token's `jti`, or null. */
  readonly jti: string | null;
  /** SHA-256 (hex, first 32 chars) of the token: links audit events to a token without storing it. */
  readonly tokenHash: string;
  /** Token expiry (seconds since the epoch), or null when the token has no `exp`. */
  readonly expiresAt: number | null;
  /** `jwt` or `ticket`: how the identity was presented at the SSH prompt. */
  readonly via: 'jwt' | 'ticket';
}
