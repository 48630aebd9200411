import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Config } from '../../config/types.js';
import type { Store } from '../../store/open-store.js';
import type { AuditLog } from '../../audit/index.js';
import { recordingFileName, summarizeSession } from '../../audit/index.js';
import { ApprovalError, type ApprovalBroker } from '../../approvals/index.js';
import { isValidReason } from '../../approvals/approver-name.js';
import type { GatewayControl, LiveEvent } from '../../gateway/live-hub.js';
import { isSaneSize } from '../../gateway/term-size.js';
import type { TokenVerifier } from '../../identity/verify-token.js';
import { HttpError, sendJson, type RequestContext } from '../router.js';
import type { WebServer } from '../server.js';
import { readCookies, serializeCookie } from './cookies.js';
import { EvidenceChecker } from './evidence.js';
import { sendPage, type Chrome } from './html.js';
import { LoginLimiter } from './login-limiter.js';
import { LoginError, OidcLogin, type PendingLogin } from './oidc-login.js';
import { approvalsPage, errorPage, livePage, loginPage, searchPage, sessionPage, sessionsPage, signedInPage, watchPage } from './pages.js';
import { buildPlayback, eventTimes, onlcr, playbackCast, recordingPath, sessionRecordings } from './playback.js';
import { requireReader, requireRole, rolesFor, type Role } from './roles.js';
import { parseQuery, searchSessions } from './search.js';
import { checkSessionId, filterSessions, parseSessionFilter, sessionEvents } from './session-data.js';
import { CONSOLE_CSS } from './static/console-css.js';
import { CONSOLE_JS } from './static/console-js.js';
import { buildTimeline } from './timeline.js';
import { WebSessions } from './web-sessions.js';

export interface ConsoleDeps {
  config: Config;
  db: Store;
  audit: AuditLog;
  broker: ApprovalBroker;
  control: GatewayControl;
  verifier: TokenVerifier;
  log: Logger;
  /** Sign-in attempts per client address per minute (default 20). */
  loginsPerMinute?: number;
}

export interface ConsoleHandle {
  sessions: WebSessions;
}

const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#18202b"/><path d="M4 5l3 3-3 3M8 11h4" stroke="#7aa2ff" stroke-width="1.6" fill="none"/></svg>';
/** What may wait in a watcher's socket buffer before it counts as too slow and is disconnected. */
const SSE_BUFFER_MAX = 1024 * 1024;
const BACKLOG_READ_MAX = 4 * 1024 * 1024;
const BACKLOG_TEXT_MAX = 64 * 1024;
const LOGIN_TTL_MS = 10 * 60_000;
const MAX_PENDING_LOGINS = 1000;
const require = createRequire(import.meta.url);

/**
 * The auditor and approver console on the gateway's HTTP listener: OIDC sign-in (code + PKCE)
 * with server-side cookie sessions, pages rendered on the server with small script files, and
 * the JSON API behind them (docs/api.md).
 */
export function registerConsoleRoutes(web: WebServer, deps: ConsoleDeps): ConsoleHandle {
  const { config, db, broker, control, log } = deps;
  const roleMap = config.web.roles;
  const sessions = new WebSessions(config.web.sessionTtlMs);
  const limiter = new LoginLimiter(deps.loginsPerMinute ?? 20);
  const login = config.web.oidc ? new OidcLogin(config.web.oidc) : null;
  const pendingLogins = new Map<string, PendingLogin>();
  const evidence = new EvidenceChecker(db, config.dataDir, config.recordings, config.audit.witness);
  const router = web.router;

  const redirectUri = (): string => {
    if (config.web.oidc?.redirectUri) return config.web.oidc.redirectUri;
    if (config.approvals.publicUrl) return config.approvals.publicUrl.replace(/\/+$/, '') + '/auth/callback';
    const a = web.address();
    const host = !a || a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address;
    return `http://${host}:${a?.port ?? 80}/auth/callback`;
  };
  const secure = (): boolean => redirectUri().startsWith('https:');
  const cookieName = () => (secure() ? '__Host-sg_session' : 'sg_session');
  const loginCookie = () => (secure() ? '__Secure-sg_login' : 'sg_login');

  web.setCookieAuth((req) => {
    const s = sessions.get(readCookies(req).get(cookieName()));
    return s ? { auth: { kind: 'session', subject: s.subject, groups: s.groups }, csrf: s.csrf } : null;
  });

  const csrfOf = (ctx: RequestContext): string | null => {
    if (ctx.auth?.kind !== 'session') return null;
    return sessions.get(readCookies(ctx.req).get(cookieName()))?.csrf ?? null;
  };
  const chrome = (ctx: RequestContext, title: string, page: string): Chrome => ({
    title,
    page,
    user: ctx.auth ? { subject: ctx.auth.subject, roles: [...rolesFor(ctx.auth, roleMap)].sort() } : null,
    csrf: csrfOf(ctx),
  });

  /** An HTML page: anonymous → the sign-in page; HttpError → an error page with its status. */
  const page = (path: string, render: (ctx: RequestContext) => Promise<void> | void) =>
    router.add('GET', path, async (ctx) => {
      if (!ctx.auth) {
        redirect(ctx.res, '/login');
        return;
      }
      try {
        await render(ctx);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        sendPage(ctx.res, err.status, errorPage(chrome(ctx, String(err.status), 'error'), err.status, err.message));
      }
    });

  // --- static files ------------------------------------------------------------------------
  const playerDir = (f: string) => require.resolve(`asciinema-player/dist/bundle/${f}`);
  const assets = new Map<string, { type: string; body: Buffer }>([
    ['console.js', { type: 'text/javascript; charset=utf-8', body: Buffer.from(CONSOLE_JS) }],
    ['console.css', { type: 'text/css; charset=utf-8', body: Buffer.from(CONSOLE_CSS) }],
    ['favicon.svg', { type: 'image/svg+xml', body: Buffer.from(FAVICON_SVG) }],
    ['asciinema-player.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(playerDir('asciinema-player.min.js')) }],
    ['asciinema-player.css', { type: 'text/css; charset=utf-8', body: readFileSync(playerDir('asciinema-player.css')) }],
  ]);
  router.add('GET', '/favicon.ico', (ctx) => {
    ctx.res.writeHead(301, { location: '/assets/favicon.svg', 'content-length': 0 });
    ctx.res.end();
  });
  router.add('GET', '/assets/:name', (ctx) => {
    const a = assets.get(ctx.params.name ?? '');
    if (!a) throw new HttpError(404, 'not found');
    ctx.res.writeHead(200, { 'content-type': a.type, 'content-length': a.body.length, 'cache-control': 'no-cache' });
    ctx.res.end(a.body);
  });

  // --- sign-in -----------------------------------------------------------------------------
  router.add('GET', '/', (ctx) => redirect(ctx.res, ctx.auth ? '/sessions' : '/login'));
  router.add('GET', '/login', (ctx) => {
    if (ctx.auth) return redirect(ctx.res, '/sessions');
    sendPage(ctx.res, 200, loginPage({ configured: login !== null, error: null }));
  });
  const client = (ctx: RequestContext) => ctx.req.socket.remoteAddress ?? 'unknown';
  const limited = (ctx: RequestContext): boolean => {
    if (limiter.allow(client(ctx))) return false;
    log.warn({ client: client(ctx) }, 'console sign-in rate limit hit');
    ctx.res.setHeader('retry-after', '60');
    sendPage(ctx.res, 429, loginPage({ configured: login !== null, error: 'Too many sign-in attempts from your address: wait a minute.' }));
    return true;
  };
  router.add('GET', '/auth/login', async (ctx) => {
    if (!login) throw new HttpError(404, 'browser sign-in is not configured');
    if (limited(ctx)) return;
    let started;
    try {
      started = await login.start(redirectUri(), LOGIN_TTL_MS);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'console sign-in could not start');
      sendPage(ctx.res, 502, loginPage({ configured: true, error: 'The identity provider cannot be reached.' }));
      return;
    }
    const now = Date.now();
    for (const [k, p] of pendingLogins) if (p.expiresAt <= now) pendingLogins.delete(k);
    while (pendingLogins.size >= MAX_PENDING_LOGINS) pendingLogins.delete(pendingLogins.keys().next().value!);
    const key = randomBytes(24).toString('base64url');
    pendingLogins.set(key, started.pending);
    // Lax: the provider sends the browser back with a top-level cross-site GET.
    ctx.res.setHeader('set-cookie', serializeCookie(loginCookie(), key, { secure: secure(), sameSite: 'Lax', maxAge: LOGIN_TTL_MS / 1000, path: '/auth' }));
    redirect(ctx.res, started.url);
  });
  router.add('GET', '/auth/callback', async (ctx) => {
    if (!login) throw new HttpError(404, 'browser sign-in is not configured');
    if (limited(ctx)) return;
    const key = readCookies(ctx.req).get(loginCookie());
    const pending = key ? pendingLogins.get(key) : undefined;
    if (key) pendingLogins.delete(key);
    const clear = serializeCookie(loginCookie(), '', { secure: secure(), sameSite: 'Lax', maxAge: 0, path: '/auth' });
    ctx.res.setHeader('set-cookie', clear);
    if (!pending || pending.expiresAt <= Date.now()) {
      sendPage(ctx.res, 400, loginPage({ configured: true, error: 'The sign-in expired or was started elsewhere: try again.' }));
      return;
    }
    let who;
    try {
      who = await login.finish(ctx.url.searchParams, pending);
    } catch (err) {
      log.warn({ client: client(ctx), reason: err instanceof LoginError ? err.message : 'error' }, 'console sign-in failed');
      sendPage(ctx.res, 401, loginPage({ configured: true, error: 'Sign-in failed.' }));
      return;
    }
    const { id } = sessions.create(who);
    log.info({ subject: who.subject, roles: [...rolesFor({ kind: 'session', ...who }, roleMap)] }, 'console sign-in');
    ctx.res.setHeader('set-cookie', [
      clear,
      serializeCookie(cookieName(), id, { secure: secure(), sameSite: 'Strict', maxAge: config.web.sessionTtlMs / 1000 }),
    ]);
    // A page, not a redirect: the Strict cookie is sent only once the navigation starts on our own site.
    sendPage(ctx.res, 200, signedInPage());
  });
  router.add('POST', '/auth/logout', (ctx) => {
    if (ctx.auth?.kind !== 'session') throw new HttpError(401, 'not signed in');
    sessions.destroy(readCookies(ctx.req).get(cookieName()));
    ctx.res.setHeader('set-cookie', serializeCookie(cookieName(), '', { secure: secure(), sameSite: 'Strict', maxAge: 0 }));
    sendJson(ctx.res, 200, { ok: true });
  });

  // --- sessions ------------------------------------------------------------------------------
  const liveIds = () => new Set(control.liveSessions().map((s) => s.session));
  const sessionDetail = async (id: string) => {
    const events = sessionEvents(db, id);
    const summary = summarizeSession(id, events);
    const playback = buildPlayback(events, id, config.recordings);
    const times = eventTimes(events, playback);
    const recordings = sessionRecordings(events, id);
    const status = await evidence.check(events, recordings);
    return { events, summary, playback, timeline: buildTimeline(events, times), recordings, evidence: status };
  };

  router.add('GET', '/api/sessions', (ctx) => {
    requireReader(ctx, roleMap);
    sendJson(ctx.res, 200, filterSessions(db, parseSessionFilter(ctx.url.searchParams)));
  });
  router.add('GET', '/api/sessions/:id', async (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireReader(ctx, roleMap);
    const d = await sessionDetail(id);
    sendJson(ctx.res, 200, {
      session: d.summary,
      live: liveIds().has(id),
      recordings: d.recordings,
      playback: { duration: d.playback.duration, segments: d.playback.segments.map((s) => ({ file: s.file, channel: s.channel, offset: s.offset, duration: s.duration, label: s.label })) },
      timeline: d.timeline,
      evidence: d.evidence,
    });
  });
  router.add('GET', '/api/sessions/:id/events', (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireReader(ctx, roleMap);
    const events = sessionEvents(db, id);
    const body = events.map((e) => e.raw + '\n').join('');
    ctx.res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'content-disposition': `attachment; filename="${id}-events.jsonl"`,
      'cache-control': 'no-store',
    });
    ctx.res.end(body);
  });
  router.add('GET', '/api/sessions/:id/cast', async (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireReader(ctx, roleMap);
    const channel = ctx.url.searchParams.get('channel');
    const events = sessionEvents(db, id);
    if (channel !== null) {
      if (!/^\d{1,6}$/.test(channel)) throw new HttpError(400, 'channel must be a number');
      const rec = sessionRecordings(events, id).find((r) => r.channel === Number(channel));
      if (!rec) throw new HttpError(404, 'no recording for that channel');
      const file = recordingPath(config.recordings, rec.file);
      const stream = createReadStream(file);
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject)).catch(() => {
        throw new HttpError(404, 'recording file is missing');
      });
      ctx.res.writeHead(200, {
        'content-type': 'application/x-asciicast',
        'content-disposition': `attachment; filename="${rec.file}"`,
        'cache-control': 'no-store',
      });
      await pipeline(stream, ctx.res);
      return;
    }
    const summary = summarizeSession(id, events);
    const body = playbackCast(buildPlayback(events, id, config.recordings), `${summary.subject ?? '?'}@${summary.target ?? '?'} ${id}`);
    ctx.res.writeHead(200, { 'content-type': 'application/x-asciicast', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    ctx.res.end(body);
  });
  router.add('GET', '/api/search', (ctx) => {
    requireReader(ctx, roleMap);
    const q = parseQuery(ctx.url.searchParams.get('q'));
    sendJson(ctx.res, 200, searchSessions(db, config.recordings, q));
  });

  page('/sessions', (ctx) => {
    requireReader(ctx, roleMap);
    const f = parseSessionFilter(ctx.url.searchParams);
    sendPage(ctx.res, 200, sessionsPage(chrome(ctx, 'Sessions', 'sessions'), f, filterSessions(db, f), liveIds()));
  });
  page('/search', (ctx) => {
    requireReader(ctx, roleMap);
    const q = parseQuery(ctx.url.searchParams.get('q'));
    sendPage(ctx.res, 200, searchPage(chrome(ctx, 'Search', 'search'), q, searchSessions(db, config.recordings, q)));
  });
  page('/sessions/:id', async (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireReader(ctx, roleMap);
    const tRaw = ctx.url.searchParams.get('t');
    let t = 0;
    if (tRaw !== null && tRaw !== '') {
      if (!/^\d{1,7}(\.\d{1,6})?$/.test(tRaw)) throw new HttpError(400, 't must be a number of seconds');
      t = Number(tRaw);
    }
    const d = await sessionDetail(id);
    sendPage(ctx.res, 200, sessionPage(chrome(ctx, `Session ${id}`, 'session'), d.summary, d.timeline, d.evidence, d.recordings, t, liveIds().has(id)));
  });

  // --- approvals (the JSON API is the approvals module's; console sign-ins decide as themselves, via web) --
  router.wrap('GET', '/api/approvals', (ctx, next) => {
    if (ctx.auth?.kind === 'session') requireReader(ctx, roleMap);
    return next(ctx);
  });
  const decideWeb = async (ctx: RequestContext, decision: 'approve' | 'deny') => {
    const auth = requireRole(ctx, roleMap, 'approver');
    const body = await ctx.body();
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object like {"reason": "…"}');
    const extra = Object.keys(body).filter((k) => k !== 'reason');
    if (extra.length) throw new HttpError(400, 'only "reason" may be given: the console decides as the signed-in user');
    const reason = (body as { reason?: unknown }).reason;
    if (reason !== undefined && !isValidReason(reason)) throw new HttpError(400, 'reason must be a single-line string of at most 1000 characters');
    if (decision === 'deny' && (typeof reason !== 'string' || reason.trim() === '')) throw new HttpError(400, 'a reason is required to deny');
    const id = ctx.params.id ?? '';
    try {
      const r = await broker.decide(id, {
        approver: auth.subject,
        approverGroups: auth.groups,
        decision,
        ...(typeof reason === 'string' && reason.trim() ? { reason: reason.trim() } : {}),
        via: 'web',
      });
      sendJson(ctx.res, 200, { id: id.replace(/^#/, '').toLowerCase(), decision, status: r.status });
    } catch (err) {
      if (err instanceof ApprovalError) throw new HttpError(err.status, err.message);
      throw err;
    }
  };
  // Once console roles are configured, an OIDC bearer token decides only with the approver role too
  // (without roles, the approvals API keeps its own rules: any identity, limited by approverGroups).
  const rolesConfigured = roleMap.approver.length + roleMap.admin.length > 0;
  for (const decision of ['approve', 'deny'] as const) {
    router.wrap('POST', `/api/approvals/:id/${decision}`, (ctx, next) => {
      if (ctx.auth?.kind === 'session') return decideWeb(ctx, decision);
      if (ctx.auth?.kind === 'oidc' && rolesConfigured) requireRole(ctx, roleMap, 'approver');
      return next(ctx);
    });
  }
  page('/approvals', (ctx) => {
    requireReader(ctx, roleMap);
    const canDecide = rolesFor(ctx.auth, roleMap).has('approver');
    sendPage(ctx.res, 200, approvalsPage(chrome(ctx, 'Approvals', 'approvals'), broker.listPending(), canDecide));
  });

  // --- live sessions ------------------------------------------------------------------------
  /** What a running session's unsealed recordings hold so far: a watcher who joins late sees the recent screen. */
  const liveBacklog = (id: string): LiveBacklog[] => {
    let events;
    try {
      events = sessionEvents(db, id);
    } catch {
      return [];
    }
    const sealed = new Set(sessionRecordings(events, id).map((r) => r.channel));
    const out: LiveBacklog[] = [];
    for (const e of events) {
      const ch = e.body.channel;
      if ((e.type !== 'command.decision' && e.type !== 'shell.start') || typeof ch !== 'number' || sealed.has(ch) || out.some((o) => o.channel === ch)) continue;
      let text: string;
      try {
        const file = recordingPath(config.recordings, recordingFileName(id, ch));
        if (statSync(file).size > BACKLOG_READ_MAX) continue;
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // not started, or not recorded
      }
      let data = '';
      const lines = text.split('\n');
      let size: { cols: number; rows: number } | null = null;
      try {
        const h = JSON.parse(lines[0] ?? '') as { width?: unknown; height?: unknown };
        if (isSaneSize(h.width, h.height)) size = { cols: h.width as number, rows: h.height as number };
      } catch {
        /* no header yet */
      }
      for (const line of lines.slice(1)) {
        try {
          const ev = JSON.parse(line) as unknown;
          if (Array.isArray(ev) && ev[1] === 'o' && typeof ev[2] === 'string') data += ev[2];
        } catch {
          /* the line being written */
        }
      }
      out.push({ channel: ch, data: data.slice(-BACKLOG_TEXT_MAX), size });
    }
    return out;
  };
  router.add('GET', '/api/live', (ctx) => {
    requireRole(ctx, roleMap, 'auditor');
    sendJson(ctx.res, 200, control.liveSessions());
  });
  router.add('GET', '/api/live/:id/stream', (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireRole(ctx, roleMap, 'auditor');
    streamLive(ctx, id, control, log, () => liveBacklog(id), eventFormat);
  });
  router.add('GET', '/api/live/:id/cast', (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireRole(ctx, roleMap, 'auditor');
    streamLive(ctx, id, control, log, () => liveBacklog(id), castFormat());
  });
  router.add('POST', '/api/live/:id/terminate', async (ctx) => {
    const id = checkSessionId(ctx.params.id);
    const auth = requireRole(ctx, roleMap, 'admin');
    const body = await ctx.body();
    const reason = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { reason?: unknown }).reason : undefined;
    if (typeof reason !== 'string' || reason.trim() === '' || !isValidReason(reason)) throw new HttpError(400, 'a single-line reason (at most 1000 characters) is required');
    const actor = auth.kind === 'admin' ? 'admin' : auth.subject;
    const done = await control.terminate(id, actor, reason.trim());
    if (!done) throw new HttpError(404, 'no such running session');
    log.info({ session: id, actor }, 'session terminated from the console');
    sendJson(ctx.res, 200, { session: id, terminated: true });
  });
  page('/live', (ctx) => {
    requireRole(ctx, roleMap, 'auditor');
    sendPage(ctx.res, 200, livePage(chrome(ctx, 'Live', 'live'), control.liveSessions()));
  });
  page('/live/:id', (ctx) => {
    const id = checkSessionId(ctx.params.id);
    requireRole(ctx, roleMap, 'auditor');
    const s = control.liveSessions().find((x) => x.session === id) ?? null;
    const can = rolesFor(ctx.auth, roleMap).has('admin' as Role);
    sendPage(ctx.res, 200, watchPage(chrome(ctx, `Watch ${id}`, 'watch'), s, id, can));
  });

  return { sessions };
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

interface LiveBacklog {
  channel: number;
  data: string;
  /** The channel's terminal size, from its recording's header. */
  size: { cols: number; rows: number } | null;
}

/** How a live stream is written: what starts it, each output or channel end, the session's end. */
interface LiveFormat {
  start(send: SendSse, backlog: LiveBacklog[]): void;
  /** Once subscribed (the backlog sent, live output follows). */
  ready(send: SendSse, id: string): void;
  event(send: SendSse, ev: LiveEvent): void;
  end(send: SendSse, id: string): void;
}
type SendSse = (event: string | null, data: unknown) => void;

/** `/api/live/:id/stream`: named events (`output`, `channel-end`, `ready`, `end`) for scripts. */
const eventFormat: LiveFormat = {
  start(send, backlog) {
    for (const b of backlog) if (b.data) send('output', { channel: b.channel, data: b.data, backlog: true });
  },
  ready(send, id) {
    send('ready', { session: id });
  },
  event(send, ev) {
    if (ev.kind === 'o') send('output', { channel: ev.channel, data: ev.data ?? '' });
    else send('channel-end', { channel: ev.channel });
  },
  end(send, id) {
    send('end', { session: id });
  },
};

/**
 * `/api/live/:id/cast`: the live stream as asciinema-player's `eventsource` driver reads it
 * (a `{cols, rows, time}` reset, then asciicast v2 `[time, "o", text]` events, then a `done`
 * event), so the console shows the running session on a real terminal screen. All channels
 * share the screen, as they share the agent's view; the size is the latest channel's.
 */
function castFormat(): LiveFormat {
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0) / 1000;
  return {
    start(send, backlog) {
      const size = backlog.findLast((b) => b.size)?.size ?? { cols: 80, rows: 24 };
      send(null, { cols: size.cols, rows: size.rows, time: 0 });
      for (const b of backlog) if (b.data) send(null, [0, 'o', onlcr(b.data)]);
    },
    ready() {
      /* the player knows no such message */
    },
    event(send, ev) {
      if (ev.kind === 'o' && ev.data) send(null, [now(), 'o', onlcr(ev.data)]);
    },
    end(send) {
      send('done', {});
    },
  };
}

/**
 * Server-sent events of a running session's masked output. A watcher that cannot keep up is
 * disconnected (nothing is queued for it); the stream ends when the session does.
 */
function streamLive(ctx: RequestContext, id: string, control: GatewayControl, log: Logger, backlog: () => LiveBacklog[], format: LiveFormat): void {
  const res = ctx.res;
  let closed = false;
  let unsubscribe: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe?.();
    if (timer) clearInterval(timer);
    res.end();
  };
  const send: SendSse = (event, data) => {
    if (closed) return;
    res.write(`${event === null ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
    if (res.writableLength > SSE_BUFFER_MAX) {
      log.warn({ session: id }, 'live watcher too slow: disconnected');
      close();
    }
  };
  if (!control.liveSessions().some((s) => s.session === id)) throw new HttpError(404, 'no such running session');
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': watching\n\n');
  // Backlog and subscription in the same tick (the backlog is read synchronously): no output is lost or repeated between them.
  format.start(send, backlog());
  if (closed) return;
  unsubscribe = control.subscribe(id, (ev) => format.event(send, ev));
  if (!unsubscribe) {
    format.end(send, id);
    close();
    return;
  }
  format.ready(send, id);
  // The hub does not announce a session's end: look, and keep proxies from idling the stream out.
  if (closed) return;
  timer = setInterval(() => {
    if (!control.liveSessions().some((s) => s.session === id)) {
      format.end(send, id);
      close();
    } else if (!closed) res.write(': keep-alive\n\n');
  }, 1000);
  timer.unref();
  res.on('close', close);
}
