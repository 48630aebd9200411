import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { SignJWT, exportJWK, base64url, type JWK } from 'jose';
import type { KeyObject } from 'node:crypto';
import { newEs256Pair } from '../helpers/keys.js';

type KeyLike = KeyObject;
import { createHmac } from 'node:crypto';
import { TokenVerifier } from '../../src/identity/verify-token.js';
import { loadDevIssuer } from '../../src/identity/dev-issuer.js';
import { TicketStore } from '../../src/identity/tickets.js';
import { TokenRejectedError } from '../../src/errors.js';
import { startOidcProvider, type OidcHandle } from '../helpers/oidc.js';
import { tempDir } from '../helpers/tmp.js';

let oidc: OidcHandle;
// A second, hand-made issuer on loopback whose keys the test controls (for forged and rotated tokens).
let idp: { issuer: string; server: Server; keys: JWK[]; jwksHits: number };
let signer: { key: KeyLike; kid: string; pub: JWK };

async function newKey(kid: string) {
  const { privateKey, publicKey } = newEs256Pair();
  const pub = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { key: privateKey, kid, pub };
}

before(async () => {
  oidc = await startOidcProvider([
    { id: 'agent-1', groups: ['agents'] },
    { id: 'deploy-bot', groups: ['deployers', 'agents'] },
  ]);
  signer = await newKey('k1');
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: idp.issuer, jwks_uri: `${idp.issuer}/jwks` }));
    } else if (req.url === '/jwks') {
      idp.jwksHits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: idp.keys }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  idp = { issuer: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, keys: [signer.pub], jwksHits: 0 };
});

after(async () => {
  await oidc.stop();
  idp.server.closeAllConnections();
  idp.server.close();
});

function verifier(cooldownMs = 30_000) {
  return new TokenVerifier(
    [
      { issuer: oidc.issuer, audience: oidc.audience, jwksUri: null, groupsClaim: 'groups' },
      { issuer: idp.issuer, audience: 'shellgate', jwksUri: null, groupsClaim: 'roles' },
    ],
    null,
    { cooldownMs },
  );
}

function mint(claims: Record<string, unknown> = {}, opts: { key?: KeyLike; kid?: string; exp?: number; nbf?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ roles: ['ops'], ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? signer.kid })
    .setIssuer(idp.issuer)
    .setAudience('shellgate')
    .setSubject('bot-7')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now + 300);
  if (opts.nbf) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? signer.key);
}

async function rejects(v: TokenVerifier, token: string, reason: RegExp) {
  await assert.rejects(v.verify(token), (err: unknown) => {
    assert.ok(err instanceof TokenRejectedError, `expected TokenRejectedError, got ${String(err)}`);
    assert.match(err.message, reason);
    // The reason is safe to log: it never contains the token.
    if (token.length > 8) assert.ok(!err.message.includes(token.slice(-8)), 'reason leaks the token');
    return true;
  });
}

test('a real OIDC provider token is accepted through discovery and JWKS, groups from the claim', async () => {
  const v = verifier();
  const id = await v.verify(await oidc.clientToken('deploy-bot'));
  assert.equal(id.subject, 'deploy-bot');
  assert.deepEqual([...id.groups].sort(), ['agents', 'deployers']);
  assert.equal(id.issuer, oidc.issuer);
  assert.equal(id.via, 'jwt');
  assert.match(id.tokenHash, /^[0-9a-f]{32}$/);
});

test('groups come from the configured claim', async () => {
  const id = await verifier().verify(await mint());
  assert.deepEqual(id.groups, ['ops']);
});

test('rejected: expired, not yet valid, wrong iss, wrong aud', async () => {
  const v = verifier();
  const now = Math.floor(Date.now() / 1000);
  await rejects(v, await mint({}, { exp: now - 120 }), /expired/);
  await rejects(v, await mint({}, { nbf: now + 300, exp: now + 600 }), /not yet valid/);
  const wrongIss = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://evil.example').setAudience('shellgate').setSubject('x').setExpirationTime(now + 60).sign(signer.key);
  await rejects(v, wrongIss, /unknown issuer/);
  const wrongAud = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(idp.issuer).setAudience('other').setSubject('x').setExpirationTime(now + 60).sign(signer.key);
  await rejects(v, wrongAud, /wrong audience/);
});

test('clock skew: up to 30 s is tolerated, more is not', async () => {
  const v = verifier();
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await v.verify(await mint({}, { exp: now - 10 }))).subject, 'bot-7');
  await rejects(v, await mint({}, { exp: now - 45 }), /expired/);
});

test('rejected: alg none, HS256 signed with the public key, flipped signature byte', async () => {
  const v = verifier();
  const now = Math.floor(Date.now() / 1000);
  const payload = base64url.encode(JSON.stringify({ iss: idp.issuer, aud: 'shellgate', sub: 'x', exp: now + 60 }));
  await rejects(v, `${base64url.encode(JSON.stringify({ alg: 'none' }))}.${payload}.`, /not allowed/);
  // The classic confusion attack: HMAC keyed with the provider's public key.
  const head = base64url.encode(JSON.stringify({ alg: 'HS256', kid: 'k1' }));
  const mac = createHmac('sha256', JSON.stringify(signer.pub)).update(`${head}.${payload}`).digest();
  await rejects(v, `${head}.${payload}.${base64url.encode(mac)}`, /not allowed/);
  const good = await mint();
  const [h, p, s] = good.split('.');
  const sig = Buffer.from(s!, 'base64url');
  sig[10]! ^= 0x01;
  await rejects(v, `${h}.${p}.${sig.toString('base64url')}`, /signature/);
});

test('rejected: garbage, empty, too long', async () => {
  const v = verifier();
  await rejects(v, '', /empty/);
  await rejects(v, 'not a token at all', /malformed/);
  await rejects(v, 'aaa.bbb.ccc', /undecodable/);
  await rejects(v, 'a'.repeat(20_000), /too long/);
});

test('unknown kid is refetched (key rotation), and refetches are rate-limited', async () => {
  const v = verifier(300);
  await v.verify(await mint());
  const hits = idp.jwksHits;
  // Rotate: the provider publishes k2; once the cooldown has passed, a token signed with k2
  // makes the verifier refetch the set once, and it passes.
  const k2 = await newKey('k2');
  idp.keys = [signer.pub, k2.pub];
  await new Promise((r) => setTimeout(r, 350));
  const id = await v.verify(await mint({}, { key: k2.key, kid: 'k2' }));
  assert.equal(id.subject, 'bot-7');
  assert.equal(idp.jwksHits, hits + 1);
  // A burst of kids that nobody publishes: all rejected, and no further fetch within the cooldown.
  const rogue = await newKey('rogue');
  for (let i = 0; i < 20; i++) await rejects(v, await mint({}, { key: rogue.key, kid: 'rogue' }), /unknown kid/);
  assert.equal(idp.jwksHits, hits + 1, `JWKS fetched ${idp.jwksHits - hits} times`);
});

test('dev issuer: tokens verify, its key persists, and another store has another issuer', async () => {
  const a = tempDir();
  const b = tempDir();
  try {
    const dev = await loadDevIssuer(a.dir);
    const again = await loadDevIssuer(a.dir);
    const other = await loadDevIssuer(b.dir);
    assert.equal(dev.issuer, again.issuer);
    assert.notEqual(dev.issuer, other.issuer);
    const v = new TokenVerifier([], dev);
    const token = await dev.mint({ sub: 'agent-9', groups: ['agents'], ttlSeconds: 60 });
    assert.ok(token.length < 1023, 'dev tokens must fit an OpenSSH prompt answer');
    const id = await v.verify(token);
    assert.equal(id.subject, 'agent-9');
    assert.deepEqual(id.groups, ['agents']);
    await rejects(v, await other.mint({ sub: 'x' }), /unknown issuer/);
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test('tickets: one use, 60 s, never past the token expiry', () => {
  const store = new TicketStore();
  const now = Date.now();
  const identity = { subject: 's', groups: [], issuer: 'i', jti: null, tokenHash: 'h', expiresAt: Math.floor(now / 1000) + 3600, via: 'jwt' as const };
  const { ticket } = store.issue(identity, now);
  assert.ok(TicketStore.looksLikeTicket(ticket));
  assert.ok(ticket.length < 64);
  assert.equal(store.redeem(ticket, now + 1000)?.subject, 's');
  assert.equal(store.redeem(ticket, now + 1000), null, 'second use');
  const t2 = store.issue(identity, now).ticket;
  assert.equal(store.redeem(t2, now + 61_000), null, 'expired after 60 s');
  const short = store.issue({ ...identity, expiresAt: Math.floor(now / 1000) + 5 }, now).ticket;
  assert.equal(store.redeem(short, now + 10_000), null, 'bounded by the token expiry');
});
