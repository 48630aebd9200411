import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { TokenVerifier } from '../identity/verify-token.js';
import { HttpError, Router, sendJson, type AuthInfo, type RequestContext } from './router.js';

const MAX_BODY = 64 * 1024;

/** Constant-time comparison of a presented secret with the configured one (both hashed first, so lengths leak nothing). */
export function secretEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A console sign-in found from the request's cookie: who, and the CSRF token bound to that session. */
export interface CookieSession {
  auth: AuthInfo;
  csrf: string;
}

/** Methods that change nothing: they need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface WebDeps {
  log: Logger;
  verifier: TokenVerifier;
  adminToken: string | null;
}

/**
 * The HTTP listener (node:http): JSON API and, later, the console. Authentication is done
 * here once for every route: `Authorization: Bearer <admin token | OIDC JWT>`.
 */
export class WebServer {
  readonly router = new Router();
  private server: Server;
  private cookieAuth: ((req: IncomingMessage) => CookieSession | null) | null = null;

  constructor(private readonly deps: WebDeps) {
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        deps.log.error({ err: err.message }, 'http handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /**
   * Let browser sessions authenticate by cookie (the console). A bearer header always wins; a
   * cookie-authenticated state-changing request must carry the session's CSRF token in
   * `X-CSRF-Token`, else it is treated as anonymous and an authentication failure becomes 403.
   */
  setCookieAuth(fn: (req: IncomingMessage) => CookieSession | null): void {
    this.cookieAuth = fn;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /** The bound address once listening (null before). */
  address(): AddressInfo | null {
    const a = this.server.address();
    return a && typeof a === 'object' ? a : null;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async authenticate(req: IncomingMessage): Promise<{ auth: AuthInfo | null; csrfFailed: boolean }> {
    const h = req.headers.authorization;
    if (!h) {
      const s = this.cookieAuth?.(req) ?? null;
      if (!s) return { auth: null, csrfFailed: false };
      if (SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) return { auth: s.auth, csrfFailed: false };
      const presented = req.headers['x-csrf-token'];
      // Defence in depth: a browser names the page's origin; another site's is refused too.
      if (!sameOrigin(req)) {
        this.deps.log.warn({ client: req.socket.remoteAddress, method: req.method }, 'console request from another origin');
        return { auth: null, csrfFailed: true };
      }
      if (typeof presented === 'string' && presented.length > 0 && secretEquals(presented, s.csrf)) return { auth: s.auth, csrfFailed: false };
      this.deps.log.warn({ client: req.socket.remoteAddress, method: req.method }, 'console request without a valid CSRF token');
      return { auth: null, csrfFailed: true };
    }
    return { auth: await this.bearer(req, h), csrfFailed: false };
  }

  private async bearer(req: IncomingMessage, h: string): Promise<AuthInfo> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) throw new HttpError(401, 'malformed Authorization header (expected: Bearer TOKEN)');
    const presented = m[1]!;
    if (this.deps.adminToken && secretEquals(presented, this.deps.adminToken)) return { kind: 'admin', subject: 'admin', groups: [] };
    try {
      const id = await this.deps.verifier.verify(presented);
      return { kind: 'oidc', subject: id.subject, groups: id.groups };
    } catch (err) {
      this.deps.log.warn({ client: req.socket.remoteAddress, reason: (err as Error).message }, 'api authentication failed');
      throw new HttpError(401, 'invalid token');
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('content-security-policy', "default-src 'none'; frame-ancestors 'none'; form-action 'self'; style-src 'self'");
    res.setHeader('x-frame-options', 'DENY');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      sendJson(res, 400, { error: 'bad request URL' });
      return;
    }
    const match = this.router.match(req.method ?? 'GET', url.pathname);
    if (match === null) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    if (match === 'method') {
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    let csrfFailed = false;
    try {
      const a = await this.authenticate(req);
      csrfFailed = a.csrfFailed;
      const ctx: RequestContext = { req, res, url, params: match.params, auth: a.auth, body: () => readJson(req) };
      await match.handler(ctx);
    } catch (err) {
      if (err instanceof HttpError) {
        // A signed-in browser whose request lacked the CSRF token was refused as anonymous: say why.
        const [status, message] = csrfFailed && (err.status === 401 || err.status === 403) ? [403, 'missing or wrong CSRF token'] : [err.status, err.message];
        if (!res.headersSent) sendJson(res, status, { error: message });
        return;
      }
      throw err;
    }
  }
}

/** True when the request has no Origin header or one whose host is the Host it was sent to. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'expected a JSON body (Content-Type: application/json)');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid JSON body');
  }
}
