import type { IncomingMessage, ServerResponse } from 'node:http';

/** Who made an API request: the admin token, or a verified OIDC token's identity. */
export interface AuthInfo {
  /** 'session': a console sign-in (cookie); its state-changing requests passed the CSRF check. */
  kind: 'admin' | 'oidc' | 'session';
  subject: string;
  groups: readonly string[];
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The verified caller, or null when no (valid) Authorization header was sent. */
  auth: AuthInfo | null;
  /** The JSON body (at most 64 KiB). Throws HttpError(400) on bad JSON, 413 when too large. */
  body(): Promise<unknown>;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** An error that becomes an HTTP response `{ "error": message }` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

/** A minimal router: `/api/approvals/:id/approve` style patterns, exact segments otherwise. */
export class Router {
  private routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    this.routes.push({ method: method.toUpperCase(), parts: pattern.split('/').filter(Boolean), handler });
  }

  /**
   * Put a handler in front of an already registered route (same method and pattern): it gets
   * the request first and calls `next` to fall through to the original. Throws a TypeError
   * when no such route exists (a wiring mistake).
   */
  wrap(method: string, pattern: string, wrapper: (ctx: RequestContext, next: Handler) => Promise<void> | void): void {
    const parts = pattern.split('/').filter(Boolean);
    const r = this.routes.find((x) => x.method === method.toUpperCase() && x.parts.join('/') === parts.join('/'));
    if (!r) throw new TypeError(`no route ${method} ${pattern} to wrap`);
    const next = r.handler;
    r.handler = (ctx) => wrapper(ctx, next);
  }

  /** Returns the handler and params, `null` when no path matched, or 'method' when only the method is wrong. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | null | 'method' {
    const segs = pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const p = r.parts[i]!;
        let s: string;
        try {
          s = decodeURIComponent(segs[i]!);
        } catch {
          ok = false;
          break;
        }
        if (p.startsWith(':')) params[p.slice(1)] = s;
        else if (p !== s) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (r.method === method.toUpperCase()) return { handler: r.handler, params };
    }
    return pathMatched ? 'method' : null;
  }
}
