import * as client from 'openid-client';
import type { Config } from '../../config/types.js';

export type OidcLoginConfig = NonNullable<Config['web']['oidc']>;

/** What the browser must bring back to the callback (kept server side, keyed by a cookie). */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
  expiresAt: number;
}

export interface SignedIn {
  subject: string;
  groups: string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** An error in the sign-in exchange; its message is safe to log (no token, no code). */
export class LoginError extends Error {}

/**
 * OpenID Connect authorization code flow with PKCE (S256), state and nonce, using
 * openid-client. Discovery happens on first use and is retried after a failure.
 * Plain http issuers are accepted on loopback only (tests, a local provider).
 */
export class OidcLogin {
  private discovered: Promise<client.Configuration> | null = null;

  constructor(private readonly cfg: OidcLoginConfig) {
    const u = new URL(cfg.issuer);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
      throw new TypeError('web.oidc.issuer must be https (http only on loopback)');
    }
  }

  private configuration(): Promise<client.Configuration> {
    if (!this.discovered) {
      const u = new URL(this.cfg.issuer);
      const insecure = u.protocol === 'http:';
      this.discovered = client
        .discovery(
          u,
          this.cfg.clientId,
          this.cfg.clientSecret ?? undefined,
          this.cfg.clientSecret ? client.ClientSecretPost(this.cfg.clientSecret) : client.None(),
          insecure ? { execute: [client.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
        )
        .catch((err: Error) => {
          this.discovered = null;
          throw new LoginError(`OIDC discovery failed: ${err.message}`);
        });
    }
    return this.discovered;
  }

  async start(redirectUri: string, ttlMs = 10 * 60_000): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile ' + this.cfg.groupsClaim,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, pending: { verifier, state, nonce, redirectUri, expiresAt: Date.now() + ttlMs } };
  }

  /** Exchange the code (the callback's query) for tokens, check state, nonce and PKCE, read subject and groups. */
  async finish(query: URLSearchParams, pending: PendingLogin): Promise<SignedIn> {
    const config = await this.configuration();
    const current = new URL(pending.redirectUri);
    current.search = query.toString();
    let tokens;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw new LoginError(`sign-in failed: ${(err as Error).message}`);
    }
    const claims = tokens.claims();
    if (!claims || typeof claims.sub !== 'string') throw new LoginError('sign-in failed: no subject in the ID token');
    let groups = readGroups(claims[this.cfg.groupsClaim]);
    if (groups === null) {
      // Providers that keep scope claims out of the ID token serve them from userinfo.
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        groups = readGroups(info[this.cfg.groupsClaim]);
      } catch {
        groups = null;
      }
    }
    return { subject: claims.sub, groups: groups ?? [] };
  }
}

function readGroups(v: unknown): string[] | null {
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string').slice(0, 200);
  if (typeof v === 'string') return [v];
  return null;
}
