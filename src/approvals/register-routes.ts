import { HttpError, sendJson, type RequestContext, type Router } from '../web/router.js';
import { isValidApproverName, isValidReason } from './approver-name.js';
import type { ApprovalBroker } from './broker.js';
import { confirmPage, escapeHtml, sendHtml } from './decision-page.js';
import { ApprovalError } from './errors.js';
import type { DecisionInput } from './types.js';

function requireAuth(ctx: RequestContext) {
  if (!ctx.auth) throw new HttpError(401, 'authentication required (Authorization: Bearer <admin token or OIDC token>)');
  return ctx.auth;
}

function asHttp(err: unknown): never {
  if (err instanceof ApprovalError) throw new HttpError(err.status, err.message);
  throw err;
}

/** `{"reason"?: string, "as"?: string, "groups"?: string[]}`; `as` and `groups` are for the admin token only. */
async function readDecisionBody(ctx: RequestContext): Promise<{ reason?: string; as?: string; groups?: string[] }> {
  const body = await ctx.body();
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object like {"reason": "…"}');
  const out: { reason?: string; as?: string; groups?: string[] } = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === 'reason') {
      if (v === null) continue;
      if (!isValidReason(v)) throw new HttpError(400, 'reason must be a single-line string of at most 1000 characters');
      out.reason = v;
    } else if (k === 'as') {
      if (!isValidApproverName(v)) throw new HttpError(400, 'as must be a printable name of at most 128 characters');
      out.as = v;
    } else if (k === 'groups') {
      if (!Array.isArray(v) || v.length > 100 || !v.every(isValidApproverName)) throw new HttpError(400, 'groups must be an array of names');
      out.groups = v as string[];
    } else {
      throw new HttpError(400, `unknown field in body: ${JSON.stringify(k).slice(0, 64)}`);
    }
  }
  return out;
}

async function decideApi(ctx: RequestContext, broker: ApprovalBroker, decision: 'approve' | 'deny'): Promise<void> {
  const auth = requireAuth(ctx);
  const body = await readDecisionBody(ctx);
  let d: DecisionInput;
  if (auth.kind === 'admin') {
    // The admin token is the operator: it names the approver it acts for (and, like the local CLI, its groups).
    d = { approver: body.as ?? 'admin', approverGroups: body.groups ?? auth.groups, decision, reason: body.reason, via: 'web' };
  } else {
    if ((body.as !== undefined && body.as !== auth.subject) || body.groups !== undefined) {
      throw new HttpError(403, 'an OIDC caller decides as itself: "as" and "groups" are for the admin token');
    }
    d = { approver: auth.subject, approverGroups: auth.groups, decision, reason: body.reason, via: 'web' };
  }
  const id = ctx.params.id ?? '';
  const r = await broker.decide(id, d).catch(asHttp);
  sendJson(ctx.res, 200, { id: id.replace(/^#/, '').toLowerCase(), decision, status: r.status });
}

function wantsHtml(ctx: RequestContext): boolean {
  return /\btext\/html\b/.test(String(ctx.req.headers.accept ?? ''));
}

function linkAs(ctx: RequestContext): string | null {
  const as = ctx.url.searchParams.get('as');
  if (as === null) return null;
  if (!isValidApproverName(as)) throw new HttpError(400, 'as must be a printable name of at most 128 characters');
  return as;
}

/**
 * The approvals API and the one-time link endpoints, on the gateway's router. The server
 * authenticates (admin token / OIDC) and fills `ctx.auth`; links carry their own signed token.
 */
export function registerApprovalRoutes(router: Router, broker: ApprovalBroker): void {
  router.add('GET', '/api/approvals', (ctx) => {
    requireAuth(ctx);
    sendJson(ctx.res, 200, broker.listPending());
  });
  router.add('POST', '/api/approvals/:id/approve', (ctx) => decideApi(ctx, broker, 'approve'));
  router.add('POST', '/api/approvals/:id/deny', (ctx) => decideApi(ctx, broker, 'deny'));

  // Chat tools and link previews open URLs with GET: a GET only shows a confirm button.
  router.add('GET', '/approvals/decide/:token', (ctx) => {
    const as = linkAs(ctx);
    let page;
    try {
      page = confirmPage(broker.describeLink(ctx.params.token ?? ''), ctx.url.pathname + ctx.url.search, as);
    } catch (err) {
      if (err instanceof ApprovalError) page = { status: err.status, title: 'Invalid approval link', inner: '<p>This link is not valid.</p>' };
      else throw err;
    }
    sendHtml(ctx.res, page.status, page.title, page.inner);
  });

  router.add('POST', '/approvals/decide/:token', async (ctx) => {
    const as = linkAs(ctx);
    const html = wantsHtml(ctx);
    try {
      const r = await broker.decideByLink(ctx.params.token ?? '', as ?? undefined);
      const approver = as ?? 'webhook';
      if (html) {
        const done = r.decision === 'approve' ? 'approved' : 'denied';
        sendHtml(ctx.res, 200, `Request #${r.id} ${done}`, `<p>Recorded: ${done} by ${escapeHtml(approver)}.</p>`);
      } else {
        sendJson(ctx.res, 200, { id: r.id, decision: r.decision, approver, status: r.status });
      }
    } catch (err) {
      if (!(err instanceof ApprovalError)) throw err;
      if (html) sendHtml(ctx.res, err.status, 'Not recorded', `<p>${escapeHtml(err.message)}</p>`);
      else throw new HttpError(err.status, err.message);
    }
  });
}
