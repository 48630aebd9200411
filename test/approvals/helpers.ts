import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApprovalBroker, type ApprovalBrokerOptions, type ApprovalRequestInput, type AuditSink } from '../../src/approvals/index.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { HttpError, Router, sendJson, type AuthInfo } from '../../src/web/router.js';

export interface RecordedEvent {
  type: string;
  [k: string]: unknown;
}

/** An in-memory audit sink that records events; `fail` makes appends throw (the log is down). */
export class FakeAudit implements AuditSink {
  events: RecordedEvent[] = [];
  fail: ((e: RecordedEvent) => boolean) | null = null;
  async append(e: { type: string; [k: string]: unknown }) {
    if (this.fail?.(e)) throw new Error('audit store unavailable');
    this.events.push(structuredClone(e));
    return { seq: this.events.length, hash: 'h' + this.events.length };
  }
  hasEvent(type: string, fields: Record<string, string | number>): boolean {
    return this.events.some((e) => e.type === type && Object.entries(fields).every(([k, v]) => e[k] === v));
  }
  ofType(type: string, approval?: string): RecordedEvent[] {
    return this.events.filter((e) => e.type === type && (approval === undefined || e.approval === approval));
  }
}

export class ListLogger {
  lines: { level: string; o: object; m: string }[] = [];
  info(o: object, m: string) {
    this.lines.push({ level: 'info', o, m });
  }
  warn(o: object, m: string) {
    this.lines.push({ level: 'warn', o, m });
  }
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-approvals-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function requestInput(over: Partial<ApprovalRequestInput> = {}): ApprovalRequestInput {
  return {
    subject: 'deploy-bot',
    groups: ['agents'],
    target: 'web-1',
    command: 'systemctl restart nginx',
    argv: [['systemctl', 'restart', 'nginx']],
    rule: 'restarts-need-a-human',
    approvers: 1,
    approverGroups: [],
    session: 'sess-1',
    ...over,
  };
}

export interface Fixture {
  dir: string;
  dbFile: string;
  db: Store;
  audit: FakeAudit;
  logger: ListLogger;
  broker: ApprovalBroker;
  close: () => Promise<void>;
}

/** A started broker on a fresh temp store. */
export async function brokerFixture(over: Partial<ApprovalBrokerOptions> = {}, dir?: string): Promise<Fixture> {
  const tmp = dir ? { dir, cleanup: () => {} } : tempDir();
  const dbFile = path.join(tmp.dir, 'shellgate.db');
  const db = openStore(dbFile);
  const audit = new FakeAudit();
  const logger = new ListLogger();
  const broker = new ApprovalBroker({
    db,
    audit,
    timeoutMs: 30_000,
    webhooks: [],
    publicUrl: null,
    dataDir: tmp.dir,
    logger,
    pollMs: 50,
    ...over,
  });
  await broker.start();
  return {
    dir: tmp.dir,
    dbFile,
    db,
    audit,
    logger,
    broker,
    close: async () => {
      await broker.stop();
      db.close();
      tmp.cleanup();
    },
  };
}

/**
 * A real HTTP server on 127.0.0.1:0 around the project's Router, as the gateway's server does it,
 * with a fake authentication scheme of this test's own: `x-test-auth: admin` or `x-test-auth: oidc SUBJECT G1,G2`,
 * or `Authorization: Bearer <adminToken>` for the CLI's remote mode.
 */
export async function startTestServer(router: Router, adminToken?: string): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  async function handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const m = router.match(req.method ?? 'GET', url.pathname);
      if (m === null) return sendJson(res, 404, { error: 'not found' });
      if (m === 'method') return sendJson(res, 405, { error: 'method not allowed' });
      let auth: AuthInfo | null = null;
      const h = req.headers['x-test-auth'];
      if (adminToken && req.headers.authorization === `Bearer ${adminToken}`) auth = { kind: 'admin', subject: 'admin', groups: [] };
      else if (h === 'admin') auth = { kind: 'admin', subject: 'admin', groups: [] };
      else if (typeof h === 'string' && h.startsWith('oidc ')) {
        const [, subject, groups] = h.split(' ');
        auth = { kind: 'oidc', subject: subject!, groups: groups ? groups.split(',') : [] };
      }
      let raw: Promise<string> | null = null;
      const readRaw = () =>
        (raw ??= new Promise<string>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let n = 0;
          req.on('data', (c: Buffer) => {
            n += c.length;
            if (n > 65536) reject(new HttpError(413, 'body too large'));
            else chunks.push(c);
          });
          req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          req.on('error', reject);
        }));
      await m.handler({
        req,
        res,
        url,
        params: m.params,
        auth,
        body: async () => {
          const text = await readRaw();
          if (text === '') return undefined;
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw new HttpError(400, 'body is not valid JSON');
          }
        },
      });
    } catch (err) {
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else sendJson(res, 500, { error: 'internal error: ' + String((err as Error)?.message) });
    }
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value or `ms` pass. */
export async function until<T>(
  fn: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  ms = 5000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}
