import { createHash } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { TokenRejectedError } from '../errors.js';
import type { IssuerConfig } from '../config/types.js';
import type { DevIssuer } from './dev-issuer.js';
import { discoverJwksUri } from './discover-jwks.js';
import type { Identity } from './types.js';

/** Asymmetric algorithms only: never `none`, never HMAC (an HS256 token "signed" with a public key). */
export const ALLOWED_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Clock skew allowed on exp/nbf/iat (config.md: at most 30 s). */
export const CLOCK_TOLERANCE_S = 30;
const MAX_TOKEN_BYTES = 16 * 1024;

interface IssuerEntry {
  cfg: IssuerConfig;
  keys: JWTVerifyGetKey | null;
  /** A discovery in flight or done; reset on failure so a later login retries. */
  pending: Promise<JWTVerifyGetKey> | null;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 32);
}

/**
 * Verifies OIDC access/ID tokens (JWTs) against the configured issuers with jose.
 * JWKS are cached; an unknown `kid` refetches the set, at most once per cooldown
 * (jose's createRemoteJWKSet), so key rotation works and a flood of bad kids cannot
 * turn into a flood of requests to the provider.
 */
export class TokenVerifier {
  private issuers = new Map<string, IssuerEntry>();

  constructor(
    issuers: readonly IssuerConfig[],
    private readonly dev: DevIssuer | null,
    private readonly opts: { cooldownMs?: number; cacheMaxAgeMs?: number } = {},
  ) {
    for (const cfg of issuers) this.issuers.set(cfg.issuer, { cfg, keys: null, pending: null });
    if (dev) {
      const cfg: IssuerConfig = { issuer: dev.issuer, audience: dev.audience, jwksUri: null, groupsClaim: 'groups' };
      this.issuers.set(dev.issuer, { cfg, keys: createLocalJWKSet({ keys: [dev.publicJwk] }), pending: null });
    }
  }

  private keysFor(entry: IssuerEntry): Promise<JWTVerifyGetKey> {
    if (entry.keys) return Promise.resolve(entry.keys);
    entry.pending ??= (async () => {
      const uri = entry.cfg.jwksUri ? new URL(entry.cfg.jwksUri) : await discoverJwksUri(entry.cfg.issuer);
      entry.keys = createRemoteJWKSet(uri, {
        cooldownDuration: this.opts.cooldownMs ?? 30_000,
        cacheMaxAge: this.opts.cacheMaxAgeMs ?? 10 * 60_000,
        timeoutDuration: 5000,
      });
      return entry.keys;
    })().catch((err) => {
      entry.pending = null;
      throw err;
    });
    return entry.pending;
  }

  /** Verify a JWT. Throws TokenRejectedError with a loggable reason (never the token itself). */
  async verify(token: string): Promise<Identity> {
    const t = token.trim();
    if (t.length === 0) throw new TokenRejectedError('empty token');
    if (Buffer.byteLength(t) > MAX_TOKEN_BYTES) throw new TokenRejectedError('token too long');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t)) throw new TokenRejectedError('not a JWT (malformed)');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(t);
      claims = decodeJwt(t);
    } catch {
      throw new TokenRejectedError('not a JWT (undecodable header or payload)');
    }
    if (typeof header.alg !== 'string' || !ALLOWED_ALGS.includes(header.alg))
      throw new TokenRejectedError(`algorithm ${JSON.stringify(String(header.alg)).slice(0, 20)} not allowed`);
    const entry = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (!entry) throw new TokenRejectedError('unknown issuer');
    let payload: JWTPayload;
    try {
      const keys = await this.keysFor(entry);
      ({ payload } = await jwtVerify(t, keys, {
        issuer: entry.cfg.issuer,
        audience: entry.cfg.audience,
        algorithms: ALLOWED_ALGS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw new TokenRejectedError(rejectionReason(err));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenRejectedError('token has no subject');
    return {
      subject: payload.sub,
      groups: readGroups(payload[entry.cfg.groupsClaim]),
      issuer: entry.cfg.issuer,
      jti: typeof payload.jti === 'string' ? payload.jti : null,
      tokenHash: tokenHash(t),
      expiresAt: typeof payload.exp === 'number' ? payload.exp : null,
      via: 'jwt',
    };
  }
}

function readGroups(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string' && g !== '');
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

/** A short, stable reason for logs and audit; jose's messages never include the token. */
function rejectionReason(err: unknown): string {
  if (err instanceof TokenRejectedError) return err.message;
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token not yet valid';
    if (err.claim === 'iss') return 'wrong issuer';
    if (err.claim === 'aud') return 'wrong audience';
    return `claim ${err.claim} invalid (${err.reason})`;
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key matches the token (unknown kid)';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof joseErrors.JWKSTimeout) return 'JWKS fetch timed out';
  if (err instanceof joseErrors.JOSEError) return `invalid token (${err.code})`;
  return `token verification failed (${(err as Error)?.message ?? 'unknown error'})`;
}
