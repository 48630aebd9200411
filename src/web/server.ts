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

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async authenticate(req: IncomingMessage): Promise<AuthInfo | null> {
    const h = req.headers.authorization;
    if (!h) return null;
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
    try {
      const auth = await this.authenticate(req);
      const ctx: RequestContext = { req, res, url, params: match.params, auth, body: () => readJson(req) };
      await match.handler(ctx);
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent) sendJson(res, err.status, { error: err.message });
        return;
      }
      throw err;
    }
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
