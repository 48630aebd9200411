import { createServer } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { launch, writeGatewayConfig, type GatewayHandle } from '../helpers/gateway.js';
import { startOidcLoginProvider, type OidcLoginHandle } from '../helpers/oidc.js';

export interface ConsoleEnv {
  gw: GatewayHandle;
  idp: OidcLoginHandle;
  base: string;
  stop(): Promise<void>;
}

/** Console users of the test provider and their groups (mapped to roles in the gateway config). */
export const USERS: Record<string, string[]> = {
  alice: ['auditors'],
  bob: ['approvers'],
  erin: ['approvers'],
  carol: ['admins'],
  dave: ['staff'],
  // The agent's own subject, as an approver: self-approval must be refused.
  'agent-1': ['approvers'],
};

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A real gateway process (`shellgate serve`) with the console enabled: its HTTP port fixed in
 * advance so the provider can register the callback URL, sign-in through a real oidc-provider.
 */
export async function startConsoleGateway(): Promise<ConsoleEnv> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const idp = await startOidcLoginProvider({ redirectUri: `${base}/auth/callback`, users: USERS });
  const w = writeGatewayConfig({});
  const env = { ...w.env, SHELLGATE_CONSOLE_SECRET: idp.clientSecret };
  let cfg = readFileSync(w.configFile, 'utf8');
  cfg = cfg.replace('http: 127.0.0.1:0', `http: 127.0.0.1:${port}`);
  cfg = cfg.replace(
    'web:\n  adminToken: ${SHELLGATE_ADMIN_TOKEN}\n',
    'web:\n  adminToken: ${SHELLGATE_ADMIN_TOKEN}\n' +
      `  oidc:\n    issuer: ${idp.issuer}\n    clientId: ${idp.clientId}\n    clientSecret: \${SHELLGATE_CONSOLE_SECRET}\n` +
      '  roles:\n    auditor: [auditors]\n    approver: [approvers]\n    admin: [admins]\n',
  );
  if (!cfg.includes('roles:')) throw new Error('test config layout changed: web section not found');
  writeFileSync(w.configFile, cfg);
  const gw = await launch(w.dir, w.configFile, w.adminToken, env, w.cleanup);
  return {
    gw,
    idp,
    base,
    async stop() {
      await gw.stop();
      await idp.stop();
    },
  };
}

/** A cookie jar per origin, enough for the sign-in redirects. */
class Jar {
  private byOrigin = new Map<string, Map<string, string>>();
  take(url: string, res: Response): void {
    const o = new URL(url).origin;
    const m = this.byOrigin.get(o) ?? new Map<string, string>();
    this.byOrigin.set(o, m);
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const k = pair!.slice(0, i).trim();
      const v = pair!.slice(i + 1).trim();
      if (/max-age=0/i.test(c) || v === '') m.delete(k);
      else m.set(k, v);
    }
  }
  header(url: string): string {
    const m = this.byOrigin.get(new URL(url).origin);
    return m ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }
  get(url: string, name: string): string | undefined {
    return this.byOrigin.get(new URL(url).origin)?.get(name);
  }
}

export interface SignedIn {
  /** The Cookie header value for the gateway. */
  cookie: string;
  sessionId: string;
  csrf: string;
  /** Set-Cookie headers the gateway sent at the callback. */
  setCookies: string[];
}

/** Sign in to the console through the real provider with fetch (authorize → login form → callback). */
export async function signIn(base: string, user: string): Promise<SignedIn> {
  const jar = new Jar();
  let url = `${base}/auth/login`;
  let setCookies: string[] = [];
  let res: Response | null = null;
  for (let hop = 0; hop < 12; hop++) {
    res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
    jar.take(url, res);
    if (url.startsWith(base + '/auth/callback')) setCookies = res.headers.getSetCookie();
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).href;
      continue;
    }
    const text = await res.text();
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>[\s\S]*?name="prompt" value="login"/i.exec(text);
    if (form) {
      const action = new URL(form[1]!, url).href;
      const post = await fetch(action, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(action), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ prompt: 'login', login: user, password: 'any' }),
      });
      jar.take(action, post);
      url = new URL(post.headers.get('location')!, action).href;
      continue;
    }
    if (res.status !== 200) throw new Error(`sign-in stopped at ${new URL(url).pathname} with ${res.status}: ${text.slice(0, 300)}`);
    break;
  }
  const sessionId = jar.get(base, 'sg_session');
  if (!sessionId) throw new Error('no console session cookie after sign-in');
  const cookie = `sg_session=${sessionId}`;
  const page = await fetch(`${base}/sessions`, { headers: { cookie }, redirect: 'manual' });
  const html = await page.text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF token on the sessions page (status ${page.status})`);
  return { cookie, sessionId, csrf, setCookies };
}

export const randHex = (n = 6) => randomBytes(n).toString('hex');
