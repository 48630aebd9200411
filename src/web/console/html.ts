import type { ServerResponse } from 'node:http';

/** Escape text for HTML element content and double-quoted attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Tagged template: interpolated values are escaped unless wrapped with `raw()`. */
export class Raw {
  constructor(readonly html: string) {}
}
export const raw = (html: string) => new Raw(html);
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    if (v instanceof Raw) out += v.html;
    else if (Array.isArray(v)) out += v.map((x) => (x instanceof Raw ? x.html : esc(x))).join('');
    else if (v === null || v === undefined || v === false) out += '';
    else out += esc(v);
    out += strings[i + 1]!;
  });
  return new Raw(out);
}

/** Console pages: scripts and styles from our own files only (the player compiles its terminal to WebAssembly). */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function sendPage(res: ServerResponse, status: number, body: Raw): void {
  const text = '<!doctype html>\n' + body.html;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'content-security-policy': PAGE_CSP,
  });
  res.end(text);
}

export interface Chrome {
  title: string;
  page: string;
  user: { subject: string; roles: string[] } | null;
  csrf: string | null;
  player?: boolean;
}

export function layout(c: Chrome, main: Raw): Raw {
  const nav = c.user
    ? html`<nav>
        <a href="/sessions" class="${c.page === 'sessions' || c.page === 'session' || c.page === 'search' ? 'on' : ''}">Sessions</a>
        <a href="/approvals" class="${c.page === 'approvals' ? 'on' : ''}">Approvals</a>
        ${c.user.roles.includes('auditor') ? html`<a href="/live" class="${c.page === 'live' || c.page === 'watch' ? 'on' : ''}">Live</a>` : ''}
      </nav>
      <div class="who"><span class="subject">${c.user.subject}</span> <span class="roles">${c.user.roles.join(', ') || 'no role'}</span>
      ${c.csrf ? html`<button type="button" id="logout" class="linkish">Sign out</button>` : ''}</div>`
    : html``;
  return html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${c.title} · shellgate</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/console.css">
${c.player ? html`<link rel="stylesheet" href="/assets/asciinema-player.css">` : ''}
${c.csrf ? html`<meta name="csrf-token" content="${c.csrf}">` : ''}
</head><body data-page="${c.page}">
<header class="top"><a class="brand" href="/sessions">shellgate</a>${nav}</header>
<main>${main}</main>
${c.player ? html`<script src="/assets/asciinema-player.min.js"></script>` : ''}
<script src="/assets/console.js"></script>
</body></html>`;
}
