import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { newEs256Pair } from './keys.js';
import Provider from 'oidc-provider';

export interface OidcHandle {
  issuer: string;
  audience: string;
  /** A client-credentials access token (JWT, ES256) for the given client. */
  clientToken(clientId: string): Promise<string>;
  clients: { id: string; secret: string; groups: string[] }[];
  stop(): Promise<void>;
}

/**
 * A real OpenID Provider (panva/oidc-provider) on loopback, issuing JWT access tokens by
 * the client-credentials grant (RFC 6749 §4.4, JWT format per RFC 9068) with a `groups` claim.
 * ES256 keeps tokens short enough for OpenSSH's 1023-character answer limit.
 */
export async function startOidcProvider(clients: { id: string; groups: string[] }[] = [{ id: 'agent-1', groups: ['agents'] }]): Promise<OidcHandle> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const audience = 'shellgate';
  const { privateKey } = newEs256Pair();
  const jwk: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'k-' + randomBytes(4).toString('hex') };
  const withSecrets = clients.map((c) => ({ ...c, secret: randomBytes(16).toString('hex') }));
  const groupsOf = new Map(withSecrets.map((c) => [c.id, c.groups]));
  const provider = new Provider(issuer, {
    clients: withSecrets.map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
    })),
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:shellgate',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'ssh',
          audience,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    ttl: { ClientCredentials: 600, AccessToken: 600 },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => ({ groups: groupsOf.get(token.clientId ?? '') ?? [] }),
  } as never);
  // oidc-provider refuses plain http issuers unless told the proxy question is settled; loopback only here.
  server.on('request', provider.callback());
  return {
    issuer,
    audience,
    clients: withSecrets,
    async clientToken(clientId: string) {
      const c = withSecrets.find((x) => x.id === clientId);
      if (!c) throw new Error('unknown client ' + clientId);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret, scope: 'ssh', resource: 'urn:shellgate' }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token request failed: ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface OidcLoginHandle {
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

/**
 * A second real OpenID Provider for browser sign-in: one confidential web client using the
 * authorization code grant with PKCE required, and oidc-provider's development login form
 * (any password) for the given users. Consent is granted automatically so the flow is:
 * authorize → login form → back to `redirectUri` with a code. ID tokens carry `groups`.
 */
export async function startOidcLoginProvider(opts: { redirectUri: string; users: Record<string, string[]> }): Promise<OidcLoginHandle> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = newEs256Pair();
  const jwk: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'k-' + randomBytes(4).toString('hex') };
  const clientId = 'shellgate-console';
  const clientSecret = randomBytes(16).toString('hex');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [opts.redirectUri],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
    // Scope claims in the ID token itself (the console reads groups from it).
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, name: id, groups: opts.users[id] ?? [] }),
    }),
    async loadExistingGrant(ctx: any) {
      if (!ctx.oidc.session?.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile groups');
      await grant.save();
      return grant;
    },
    ttl: { AccessToken: 600, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  } as never);
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
