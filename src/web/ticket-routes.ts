import type { TicketStore } from '../identity/tickets.js';
import type { TokenVerifier } from '../identity/verify-token.js';
import { HttpError, sendJson, type Router } from './router.js';

/**
 * POST /api/tickets with `Authorization: Bearer <JWT>` → a short one-time ticket for the
 * SSH prompt (cli.md). Only an OIDC identity can get a ticket: the admin token cannot
 * log in to targets.
 */
export function registerTicketRoutes(router: Router, tickets: TicketStore, verifier: TokenVerifier): void {
  router.add('POST', '/api/tickets', async (ctx) => {
    if (!ctx.auth || ctx.auth.kind !== 'oidc') throw new HttpError(401, 'a valid OIDC bearer token is required');
    const header = ctx.req.headers.authorization!;
    const token = header.replace(/^Bearer\s+/i, '').trim();
    const identity = await verifier.verify(token);
    const { ticket, expiresAt } = tickets.issue(identity);
    sendJson(ctx.res, 201, { ticket, expiresAt: new Date(expiresAt).toISOString() });
  });
  router.add('GET', '/healthz', (ctx) => sendJson(ctx.res, 200, { ok: true }));
}
