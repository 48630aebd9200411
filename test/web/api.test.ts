import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { runSsh, type SshResult } from '../helpers/openssh.js';
import { rand, tempDir } from '../helpers/tmp.js';
import { randHex, signIn, startConsoleGateway, type ConsoleEnv, type SignedIn } from './helpers.js';

let env: ConsoleEnv;
let agentToken: string;
const tmp = tempDir('shellgate-web-api-');
const tag = randHex();
/** A fake secret of a detected shape, built at run time. */
const secret = 'sk_' + 'live_' + rand(24);
/** Every bearer token and cookie this test uses: none may appear in any response. */
const credentials: string[] = [];
const bodies: string[] = [];
let tokens: { auditor: string; approver: string; none: string };
let echoSession = '';
let secretSession = '';
let deniedSession = '';

before(async () => {
  env = await startConsoleGateway();
  agentToken = await env.gw.token('agent-1', ['agents']);
  tokens = {
    auditor: await env.gw.token('aud-1', ['auditors']),
    approver: await env.gw.token('appr-1', ['approvers']),
    none: await env.gw.token('nobody', ['staff']),
  };
  credentials.push(env.gw.adminToken, agentToken, tokens.auditor, tokens.approver, tokens.none, env.idp.clientSecret);
  const r1 = await ssh(`echo hello-${tag}`);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await ssh(`echo key=${secret}`);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(!r2.stdout.toString().includes(secret), 'the gateway masks the secret');
  const r3 = await ssh(`rm -r /tmp/nothing-${tag}`);
  assert.equal(r3.code, 126);
  const list = (await (await get('/api/sessions', env.gw.adminToken)).json()) as { id: string; commands: number; denials: number }[];
  assert.equal(list.length, 3);
  [deniedSession, secretSession, echoSession] = list.map((s) => s.id); // newest first
});

after(async () => {
  await env?.stop();
  tmp.cleanup();
});

function ssh(command: string, extra?: string[]): Promise<SshResult> {
  return runSsh({ port: env.gw.sshPort, knownHostsFile: env.gw.knownHostsFile, target: 'local', token: agentToken, command, ...(extra ? { extra } : {}) });
}

/** GET with a bearer token, a cookie session or nothing; every body is kept for the secrets check. */
async function get(p: string, auth?: string | SignedIn): Promise<Response & { text(): Promise<string> }> {
  const headers: Record<string, string> = {};
  if (typeof auth === 'string') headers.authorization = `Bearer ${auth}`;
  else if (auth) headers.cookie = auth.cookie;
  const res = await fetch(env.base + p, { headers, redirect: 'manual' });
  const text = await res.text();
  bodies.push(text, JSON.stringify([...res.headers]));
  return Object.assign(res, { text: async () => text, json: async () => JSON.parse(text) });
}

async function post(p: string, auth: string | SignedIn | null, body: unknown, csrf?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (typeof auth === 'string') headers.authorization = `Bearer ${auth}`;
  else if (auth) headers.cookie = auth.cookie;
  if (csrf !== undefined) headers['x-csrf-token'] = csrf;
  const res = await fetch(env.base + p, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  bodies.push(text, JSON.stringify([...res.headers]));
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A GET whose path is sent exactly as written. */
function rawGet(p: string, token: string): Promise<number> {
  const u = new URL(env.base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitPending(): Promise<{ id: string; session: string }> {
  for (let i = 0; i < 100; i++) {
    const list = (await (await get('/api/approvals', env.gw.adminToken)).json()) as { id: string; session: string }[];
    if (list.length) return list[0]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no pending approval');
}

test('anonymous callers get 401 from the API and the sign-in page from the console', async () => {
  for (const p of ['/api/sessions', `/api/sessions/${echoSession}`, `/api/sessions/${echoSession}/events`, `/api/sessions/${echoSession}/cast`, '/api/search?q=x', '/api/live', '/api/approvals']) {
    assert.equal((await get(p)).status, 401, p);
  }
  assert.equal((await post(`/api/live/${echoSession}/terminate`, null, { reason: 'x' })).status, 401);
  assert.equal((await post('/api/approvals/abc/approve', null, {})).status, 401);
  for (const p of ['/sessions', `/sessions/${echoSession}`, '/approvals', '/live', '/search?q=x']) {
    const r = await get(p);
    assert.equal(r.status, 302, p);
    assert.equal(r.headers.get('location'), '/login');
  }
  const login = await get('/login');
  assert.equal(login.status, 200);
  assert.match(await login.text(), /href="\/auth\/login"/);
});

test('roles by bearer token: auditor reads only, approver decides, admin does everything, no role is refused', async () => {
  assert.equal((await get('/api/sessions', tokens.auditor)).status, 200);
  assert.equal((await get(`/api/sessions/${echoSession}`, tokens.auditor)).status, 200);
  assert.equal((await get('/api/live', tokens.auditor)).status, 200);
  assert.equal((await get('/api/sessions', tokens.approver)).status, 200);
  assert.equal((await get('/api/live', tokens.approver)).status, 403, 'watching needs the auditor role');
  assert.equal((await get('/api/sessions', tokens.none)).status, 403);
  assert.equal((await get('/api/search?q=hello', tokens.none)).status, 403);
  assert.equal((await get('/api/sessions', env.gw.adminToken)).status, 200);

  assert.equal((await post('/api/approvals/zzzzzzzz/approve', tokens.auditor, {})).status, 403, 'an auditor cannot approve');
  assert.equal((await post('/api/approvals/zzzzzzzz/approve', tokens.approver, {})).status, 404, 'an approver passes the role check');
  assert.equal((await post(`/api/live/${echoSession}/terminate`, tokens.auditor, { reason: 'x' })).status, 403);
  assert.equal((await post(`/api/live/${echoSession}/terminate`, tokens.approver, { reason: 'x' })).status, 403);
  assert.equal((await post(`/api/live/${echoSession}/terminate`, env.gw.adminToken, { reason: 'x' })).status, 404, 'admin passes; the session is not running');

  // The approver's token really decides.
  const file = path.join(tmp.dir, `bearer-${tag}`);
  const waiting = ssh(`touch ${file}`);
  const p = await waitPending();
  assert.equal((await post(`/api/approvals/${p.id}/approve`, tokens.auditor, {})).status, 403);
  const ok = await post(`/api/approvals/${p.id}/approve`, tokens.approver, { reason: 'fine' });
  assert.equal(ok.status, 200);
  assert.equal((await waiting).code, 0);
  assert.ok(existsSync(file));
});

test('console sessions: cookie flags, CSRF refusal, roles, self-approval, logout', async () => {
  const bob = await signIn(env.base, 'bob');
  credentials.push(bob.sessionId);
  const set = bob.setCookies.find((c) => c.startsWith('sg_session='))!;
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.match(set, /Path=\//);
  assert.doesNotMatch(set, /Secure/, 'plain http on loopback');

  assert.equal((await get('/api/sessions', bob)).status, 200);
  const missing = await post('/api/approvals/zzzzzzzz/approve', bob, {});
  assert.equal(missing.status, 403);
  assert.match(missing.body.error, /CSRF/);
  const wrong = await post('/api/approvals/zzzzzzzz/approve', bob, {}, bob.csrf.slice(0, -2) + 'xx');
  assert.equal(wrong.status, 403);
  assert.match(wrong.body.error, /CSRF/);
  assert.equal((await post('/api/approvals/zzzzzzzz/approve', bob, {}, bob.csrf)).status, 404, 'the right token passes');
  // A token from another session is wrong for this one.
  const erin = await signIn(env.base, 'erin');
  credentials.push(erin.sessionId);
  assert.equal((await post('/api/approvals/zzzzzzzz/approve', bob, {}, erin.csrf)).status, 403);

  // Decide in the console: deny needs a reason; approve works; the audit event says via web.
  const file = path.join(tmp.dir, `cookie-${tag}`);
  const waiting = ssh(`touch ${file}`);
  const p = await waitPending();
  assert.equal((await post(`/api/approvals/${p.id}/deny`, bob, {}, bob.csrf)).status, 400);
  assert.equal((await post(`/api/approvals/${p.id}/approve`, bob, { as: 'someone-else' }, bob.csrf)).status, 400);
  const self = await signIn(env.base, 'agent-1');
  credentials.push(self.sessionId);
  assert.equal((await post(`/api/approvals/${p.id}/approve`, self, {}, self.csrf)).status, 403, 'no self-approval');
  const alice = await signIn(env.base, 'alice');
  credentials.push(alice.sessionId);
  assert.equal((await post(`/api/approvals/${p.id}/approve`, alice, {}, alice.csrf)).status, 403, 'an auditor cannot approve');
  const ok = await post(`/api/approvals/${p.id}/approve`, bob, { reason: 'looks right' }, bob.csrf);
  assert.equal(ok.status, 200);
  assert.equal((await waiting).code, 0);
  const events = (await (await get(`/api/sessions/${p.session}/events`, bob)).text()).trim().split('\n').map((l) => JSON.parse(l));
  const decided = events.find((e) => e.type === 'approval.decided');
  assert.equal(decided.via, 'web');
  assert.equal(decided.approver, 'bob');

  const dave = await signIn(env.base, 'dave');
  credentials.push(dave.sessionId);
  assert.equal((await get('/api/sessions', dave)).status, 403, 'signed in without a role');

  // Logout is a state change too.
  assert.equal((await post('/auth/logout', bob, {})).status, 403);
  assert.equal((await post('/auth/logout', bob, {}, bob.csrf)).status, 200);
  assert.equal((await get('/api/sessions', bob)).status, 401, 'the session is gone server side');
});

test('two-approver rule from the console: one approval keeps it pending, a second distinct approver releases it', async () => {
  const bob = await signIn(env.base, 'bob');
  const erin = await signIn(env.base, 'erin');
  credentials.push(bob.sessionId, erin.sessionId);
  const dir = path.join(tmp.dir, `two-${tag}`);
  const waiting = ssh(`mkdir ${dir}`);
  const p = await waitPending();
  const first = await post(`/api/approvals/${p.id}/approve`, bob, {}, bob.csrf);
  assert.equal(first.status, 200);
  assert.equal(first.body.status, 'pending');
  assert.equal((await post(`/api/approvals/${p.id}/approve`, bob, {}, bob.csrf)).status, 409, 'the same approver never counts twice');
  const list = (await (await get('/api/approvals', erin)).json()) as { id: string; approvals: number; approvedBy: string[] }[];
  assert.deepEqual(list.find((x) => x.id === p.id)?.approvedBy, ['bob']);
  const second = await post(`/api/approvals/${p.id}/approve`, erin, {}, erin.csrf);
  assert.equal(second.body.status, 'approved');
  assert.equal((await waiting).code, 0);
  assert.ok(existsSync(dir));
});

test('bad ids and bad input: 400 before any lookup, 404 for unknown ones, no path traversal', async () => {
  const a = env.gw.adminToken;
  // Sent raw (fetch would normalise dot segments away before they reach the server).
  for (const id of ['..', '%2E%2E', '..%2F..%2Fetc%2Fpasswd', '.hidden', '-x', 'a..b', '%00', 'x'.repeat(200), 'a%2Fb', '%ZZ']) {
    for (const suffix of ['', '/cast', '/events']) {
      const status = await rawGet(`/api/sessions/${id}${suffix}`, a);
      // A bare dot segment is resolved by URL parsing before routing (404: no such route); the rest reach the id check.
      const normalised = id === '..' || id === '%2E%2E' || id === '%ZZ';
      assert.ok(status === 400 || (normalised && status === 404), `${id}${suffix}: ${status}`);
    }
  }
  assert.equal(await rawGet('/api/sessions/../../etc/passwd/cast', a), 404, 'no such route');
  assert.equal((await get('/api/sessions/20991231T000000Z-000000000000', a)).status, 404);
  assert.equal((await get('/api/sessions/20991231T000000Z-000000000000/cast', a)).status, 404);
  assert.equal((await get(`/api/sessions/${echoSession}/cast?channel=../../x`, a)).status, 400);
  assert.equal((await get(`/api/sessions/${echoSession}/cast?channel=7`, a)).status, 404);
  assert.equal((await get('/api/search', a)).status, 400);
  assert.equal((await get(`/api/search?q=${'x'.repeat(201)}`, a)).status, 400);
  assert.equal((await get('/api/sessions?from=yesterday-ish', a)).status, 400);
  assert.equal((await get('/api/sessions?limit=0', a)).status, 400);
  assert.equal((await get('/api/sessions?denials=maybe', a)).status, 400);
  assert.equal((await get(`/sessions/${echoSession}?t=abc`, a)).status, 400);
  assert.equal((await get('/assets/..%2F..%2Fpackage.json', a)).status, 404);
  assert.equal((await get('/assets/console.js.map', a)).status, 404);
  assert.equal((await post(`/api/live/${echoSession}/terminate`, a, {})).status, 400, 'a reason is required');
  assert.equal((await post('/api/live/..%2Fx/terminate', a, { reason: 'x' })).status, 400);
  const bad = await fetch(env.base + '/api/approvals/abc/approve', { method: 'POST', headers: { authorization: `Bearer ${a}`, 'content-type': 'application/json' }, body: '{nope' });
  assert.equal(bad.status, 400);
});

test('sessions list filters, search links into the recording, downloads, evidence', async () => {
  const a = env.gw.adminToken;
  const denied = (await (await get('/api/sessions?denials=1', a)).json()) as { id: string }[];
  assert.deepEqual(denied.map((s) => s.id), [deniedSession]);
  assert.equal(((await (await get('/api/sessions?subject=agent-1', a)).json()) as unknown[]).length >= 3, true);
  assert.deepEqual(await (await get('/api/sessions?subject=nobody-such', a)).json(), []);
  assert.deepEqual(await (await get('/api/sessions?from=2099-01-01T00:00:00Z', a)).json(), []);
  assert.equal(((await (await get('/api/sessions?approvals=1', a)).json()) as unknown[]).length >= 1, true);

  const hits = (await (await get(`/api/search?q=hello-${tag}`, a)).json()) as { session: string; kind: string; time: number }[];
  assert.ok(hits.some((h) => h.kind === 'output' && h.session === echoSession));
  assert.ok(hits.some((h) => h.kind === 'command' && h.session === echoSession));
  const page = await (await get(`/search?q=hello-${tag}`, a)).text();
  assert.match(page, new RegExp(`href="/sessions/${echoSession}\\?t=\\d+\\.\\d+"`));

  const raw = await get(`/api/sessions/${echoSession}/cast?channel=0`, a);
  assert.equal(raw.status, 200);
  assert.match(raw.headers.get('content-disposition')!, /attachment; filename="[^"]+-0\.cast"/);
  const castText = await raw.text();
  assert.equal(JSON.parse(castText.split('\n')[0]!).version, 2);
  assert.ok(castText.includes(`hello-${tag}`));
  const events = (await (await get(`/api/sessions/${echoSession}/events`, a)).text()).trim().split('\n');
  assert.deepEqual(events.map((l) => JSON.parse(l).type).slice(0, 2), ['session.start', 'command.decision']);

  const detail: any = await (await get(`/api/sessions/${secretSession}`, a)).json();
  assert.equal(detail.evidence.ok, true);
  assert.equal(detail.evidence.chain.ok, true);
  assert.equal(detail.timeline.find((t: any) => t.type === 'command.result').detail.includes('masked'), true, 'detectors fired are shown');
  // Alter the sealed recording: the session's evidence says so.
  const file = path.join(env.gw.dir, 'recordings', detail.recordings[0].file);
  appendFileSync(file, '[9.9,"o","forged"]\n');
  const after: any = await (await get(`/api/sessions/${secretSession}`, a)).json();
  assert.equal(after.evidence.ok, false);
  assert.equal(after.evidence.recordings[0].ok, false);
  const html = await (await get(`/sessions/${secretSession}`, a)).text();
  assert.match(html, /FAILED/);
});

test('live: an auditor watches the masked output stream, an admin terminates (recorded)', async () => {
  const running = ssh(`sh -c 'while true; do echo tick-${tag}; sleep 0.2; done'`);
  let live: { session: string }[] = [];
  for (let i = 0; i < 100 && !live.length; i++) {
    live = (await (await get('/api/live', tokens.auditor)).json()) as { session: string }[];
    if (!live.length) await new Promise((r) => setTimeout(r, 100));
  }
  const id = live[0]!.session;
  /** Read a live SSE stream as the auditor until `enough(text so far)`; then stop reading. */
  const readLive = async (path: string, enough: (text: string) => boolean): Promise<string> => {
    const ac = new AbortController();
    const res = await fetch(`${env.base}${path}`, { headers: { authorization: `Bearer ${tokens.auditor}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!enough(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    ac.abort();
    return text;
  };
  // Output that arrives while watching (not only the backlog read from the recording so far).
  const liveLine = new RegExp(`event: output\ndata: \\{"channel":\\d+,"data":"tick-${tag}[^"]*"\\}\n`);
  assert.ok(liveLine.test(await readLive(`/api/live/${id}/stream`, (t) => liveLine.test(t))), 'live output reached the watcher');
  // The same session as asciinema-player's eventsource driver reads it: a reset with the
  // terminal size first, then asciicast v2 output events (times in seconds, not decreasing).
  // Whole messages only (a read may end mid-line): each ends with a blank line.
  const castData = (text: string) =>
    text.split('\n\n').slice(0, -1).flatMap((m) => m.split('\n')).filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as unknown);
  const liveEvents = (text: string) => castData(text).filter((d) => Array.isArray(d) && (d as unknown[])[0] !== 0 && String((d as unknown[])[2]).includes(`tick-${tag}`));
  const castText = await readLive(`/api/live/${id}/cast`, (t) => liveEvents(t).length > 0);
  const data = castData(castText);
  assert.deepEqual(data[0], { cols: 80, rows: 24, time: 0 }, 'a reset with the size of the exec channel (no pty: 80x24)');
  assert.ok(!/^event: /m.test(castText), 'default message events only (until the end, `done`)');
  const evs = data.slice(1) as [number, string, string][];
  assert.ok(evs.length > 0 && evs.every((e) => Array.isArray(e) && e.length === 3 && e[1] === 'o' && typeof e[0] === 'number'));
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i]![0] >= evs[i - 1]![0]);
  assert.ok(liveEvents(castText).length > 0, 'live output reached the player stream');
  assert.equal((await get(`/api/live/${id}/cast`, tokens.approver)).status, 403);
  assert.equal((await get(`/api/live/${id}/stream`, tokens.approver)).status, 403);
  assert.equal((await post(`/api/live/${id}/terminate`, tokens.auditor, { reason: 'no' })).status, 403);
  const t = await post(`/api/live/${id}/terminate`, env.gw.adminToken, { reason: 'runaway loop' });
  assert.equal(t.status, 200);
  const r = await running;
  assert.notEqual(r.code, 0);
  const events = (await (await get(`/api/sessions/${id}/events`, env.gw.adminToken)).text()).trim().split('\n').map((l) => JSON.parse(l));
  const term = events.find((e) => e.type === 'session.terminated');
  assert.equal(term.actor, 'admin');
  assert.equal(term.reason, 'runaway loop');
  assert.equal((await get(`/api/live/${id}/stream`, tokens.auditor)).status, 404, 'not running any more');
  assert.equal((await get(`/api/live/${id}/cast`, tokens.auditor)).status, 404);
});

test('HTML in a command line and its output is escaped on every page', async () => {
  const payload = `<img src=x onerror=alert(${tag})>`;
  assert.equal((await ssh(`echo '${payload}'`)).code, 0);
  const hits = (await (await get(`/api/search?q=onerror=alert(${tag})`, env.gw.adminToken)).json()) as { session: string; kind: string }[];
  assert.ok(hits.some((h) => h.kind === 'output') && hits.some((h) => h.kind === 'command'));
  for (const p of [`/sessions/${hits[0]!.session}`, `/search?q=${encodeURIComponent(payload)}`, '/sessions']) {
    const page = await (await get(p, env.gw.adminToken)).text();
    assert.ok(!page.includes('<img'), `${p}: raw HTML from the session`);
    if (p !== '/sessions') assert.ok(page.includes('&#60;img src=x onerror=alert(' + tag + ')&#62;'), `${p}: shown escaped`);
  }
});

test('no secret in any response; pages carry a strict CSP and no inline script or style', async () => {
  const a = env.gw.adminToken;
  for (const p of ['/api/sessions', '/api/approvals', '/api/live', `/api/search?q=key`, `/api/search?q=sk_`, '/sessions', '/approvals', '/live', '/search?q=key']) await get(p, a);
  for (const id of [echoSession, secretSession, deniedSession]) {
    for (const p of [`/api/sessions/${id}`, `/api/sessions/${id}/events`, `/api/sessions/${id}/cast`, `/api/sessions/${id}/cast?channel=0`, `/sessions/${id}`]) await get(p, a);
  }
  const all = bodies.join('\n');
  assert.ok(!all.includes(secret), 'the fake secret appears only masked');
  for (const c of credentials) assert.ok(!all.includes(c), 'a credential leaked into a response');
  const masked = await (await get(`/api/sessions/${secretSession}/cast?channel=0`, a)).text();
  assert.ok(masked.includes('key=' + '*'.repeat(secret.length)), 'the recording shows the secret masked, same length');
  const hits = (await (await get('/api/search?q=key=', a)).json()) as { text: string }[];
  assert.ok(hits.length > 0 && hits.every((h) => !h.text.includes(secret)));

  for (const p of ['/sessions', `/sessions/${echoSession}`, '/approvals', '/live', '/login']) {
    const r = await get(p, p === '/login' ? undefined : a);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${p}: inline script`);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, `${p}: inline style or handler`);
  }
  for (const f of ['console.js', 'console.css', 'asciinema-player.min.js', 'asciinema-player.css']) {
    assert.equal((await get(`/assets/${f}`)).status, 200, f);
  }
});

test('sign-in attempts are rate limited per address', async () => {
  let limited = 0;
  for (let i = 0; i < 30; i++) {
    const r = await fetch(`${env.base}/auth/login`, { redirect: 'manual' });
    await r.text();
    if (r.status === 429) limited++;
  }
  assert.ok(limited > 0, 'some attempts were refused with 429');
});
