import type { ServerResponse } from 'node:http';
import type { LinkInfo } from './broker.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** HTML for one-time links: no scripts, no referrer (the URL is the credential), never framed or cached. */
export function sendHtml(res: ServerResponse, status: number, title: string, inner: string): void {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em}
code,pre{background:#f3f3f3;padding:.2em .4em;border-radius:4px;white-space:pre-wrap;word-break:break-all}
dt{font-weight:600}button{font-size:1.1em;padding:.5em 1.5em;cursor:pointer}</style></head>
<body><h1>${escapeHtml(title)}</h1>${inner}</body></html>
`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  });
  res.end(body);
}

/** The page a GET on a link shows: the request and one confirm button that POSTs back (a GET never decides). */
export function confirmPage(info: LinkInfo, action: string, as: string | null): { status: number; title: string; inner: string } {
  const r = info.request;
  const verb = info.claims.decision === 'approve' ? 'Approve' : 'Deny';
  if (!r) return { status: 404, title: 'Unknown request', inner: '<p>This approval request does not exist.</p>' };
  const details = `<dl><dt>Request</dt><dd>#${escapeHtml(r.id)}</dd><dt>Who</dt><dd>${escapeHtml(r.subject)}</dd>
<dt>Target</dt><dd>${escapeHtml(r.target)}</dd><dt>Command</dt><dd><pre>${escapeHtml(r.command)}</pre></dd>
<dt>Rule</dt><dd>${escapeHtml(r.rule)}</dd><dt>Expires</dt><dd>${escapeHtml(r.expiresAt)}</dd></dl>`;
  const expired = Date.now() >= Date.parse(r.expiresAt) || info.status === 'timeout';
  if (info.status !== 'pending' || expired) {
    const what = expired && (info.status === 'pending' || info.status === 'timeout') ? 'has expired' : `is already ${info.status}`;
    return { status: expired ? 410 : 409, title: `Request #${r.id} ${what}`, inner: details };
  }
  if (info.used) return { status: 409, title: 'This link has already been used', inner: details };
  return {
    status: 200,
    title: `${verb} request #${r.id}?`,
    inner: `${details}<form method="post" action="${escapeHtml(action)}"><button type="submit">${verb}${as ? ' as ' + escapeHtml(as) : ''}</button></form>`,
  };
}
