import { TokenRejectedError } from '../errors.js';

/**
 * OIDC discovery (OpenID Connect Discovery 1.0 §4): GET {issuer}/.well-known/openid-configuration,
 * whose `issuer` must equal the configured issuer exactly (§4.3), and return its `jwks_uri`.
 */
export async function discoverJwksUri(issuer: string, timeoutMs = 5000): Promise<URL> {
  const url = issuer.replace(/\/$/, '') + '/.well-known/openid-configuration';
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  } catch (err) {
    throw new TokenRejectedError(`OIDC discovery for ${issuer} failed: ${(err as Error).message}`);
  }
  if (!res.ok) throw new TokenRejectedError(`OIDC discovery for ${issuer} failed: HTTP ${res.status}`);
  let meta: { issuer?: unknown; jwks_uri?: unknown };
  try {
    meta = (await res.json()) as typeof meta;
  } catch {
    throw new TokenRejectedError(`OIDC discovery for ${issuer} returned invalid JSON`);
  }
  if (meta.issuer !== issuer) throw new TokenRejectedError(`OIDC discovery for ${issuer} names another issuer`);
  if (typeof meta.jwks_uri !== 'string') throw new TokenRejectedError(`OIDC discovery for ${issuer} has no jwks_uri`);
  return new URL(meta.jwks_uri);
}
