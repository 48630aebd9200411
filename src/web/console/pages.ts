import type { SessionSummary } from '../../audit/index.js';
import type { LiveSessionInfo } from '../../gateway/live-hub.js';
import type { PendingSummary } from '../../approvals/index.js';
import { html, layout, raw, type Chrome, type Raw } from './html.js';
import type { EvidenceStatus } from './evidence.js';
import type { SearchHit } from './search.js';
import type { SessionFilter } from './session-data.js';
import type { TimelineItem } from './timeline.js';

const fmtTs = (ts: string | null) => (ts ? ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

export function loginPage(opts: { configured: boolean; error: string | null }): Raw {
  return layout(
    { title: 'Sign in', page: 'login', user: null, csrf: null },
    html`<section class="card narrow">
      <h1>Sign in</h1>
      <p>The shellgate console is for auditors and approvers.</p>
      ${opts.error ? html`<p class="error">${opts.error}</p>` : ''}
      ${opts.configured
        ? html`<p><a class="button primary" id="signin" href="/auth/login">Sign in with OpenID Connect</a></p>`
        : html`<p class="muted">Browser sign-in is not configured (web.oidc). Use the JSON API with a bearer token.</p>`}
    </section>`,
  );
}

export function signedInPage(): Raw {
  return html`<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/sessions"><title>Signed in · shellgate</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/assets/console.css"></head><body><main><p>Signed in. <a href="/sessions">Continue to the console</a>.</p></main></body></html>`;
}

export function sessionsPage(c: Chrome, f: SessionFilter, sessions: SessionSummary[], live: Set<string>): Raw {
  const rows = sessions.map(
    (s) => html`<tr>
      <td><a href="/sessions/${encodeURIComponent(s.id)}">${s.id}</a>${live.has(s.id) ? html` <span class="badge live">live</span>` : ''}</td>
      <td>${s.subject ?? '—'}</td><td>${s.target ?? '—'}</td>
      <td class="num">${fmtTs(s.start)}</td><td class="num">${s.end ? fmtTs(s.end) : 'open'}</td>
      <td class="num">${s.commands}</td>
      <td class="num">${s.denials ? html`<span class="badge deny">${s.denials}</span>` : '0'}</td>
      <td class="num">${s.approvals ? html`<span class="badge approve">${s.approvals}</span>` : '0'}</td>
    </tr>`,
  );
  return layout(
    c,
    html`<h1>Sessions</h1>
    <form class="search" method="get" action="/search" role="search">
      <input type="search" name="q" placeholder="Search commands and output…" maxlength="200" aria-label="Search commands and output">
      <button type="submit">Search</button>
    </form>
    <form class="filters" method="get" action="/sessions">
      <label>Subject <input name="subject" value="${f.subject ?? ''}" maxlength="200"></label>
      <label>Target <input name="target" value="${f.target ?? ''}" maxlength="200"></label>
      <label>From (UTC) <input name="from" type="datetime-local" value="${f.from ? f.from.slice(0, 16) : ''}"></label>
      <label>To (UTC) <input name="to" type="datetime-local" value="${f.to ? f.to.slice(0, 16) : ''}"></label>
      <label class="check"><input type="checkbox" name="denials" value="1" ${f.denials ? raw('checked') : ''}> had denials</label>
      <label class="check"><input type="checkbox" name="approvals" value="1" ${f.approvals ? raw('checked') : ''}> had approvals</label>
      <button type="submit">Filter</button> <a href="/sessions" class="muted">clear</a>
    </form>
    <table class="list" id="sessions">
      <thead><tr><th>Session</th><th>Subject</th><th>Target</th><th>Started</th><th>Ended</th><th>Commands</th><th>Denials</th><th>Approvals</th></tr></thead>
      <tbody>${rows.length ? rows : html`<tr><td colspan="8" class="muted">No sessions match.</td></tr>`}</tbody>
    </table>`,
  );
}

export function searchPage(c: Chrome, q: string, hits: SearchHit[]): Raw {
  const items = hits.map(
    (h) => html`<li class="hit">
      <a href="/sessions/${encodeURIComponent(h.session)}?t=${h.time.toFixed(2)}">${h.session} @ ${h.time.toFixed(1)}s</a>
      <span class="badge">${h.kind}</span> <span class="muted">${h.subject ?? ''} → ${h.target ?? ''}</span>
      <pre class="snippet">${h.text}</pre></li>`,
  );
  return layout(
    c,
    html`<h1>Search</h1>
    <form class="search" method="get" action="/search" role="search">
      <input type="search" name="q" value="${q}" maxlength="200" aria-label="Search commands and output"><button type="submit">Search</button>
    </form>
    <p class="muted">${hits.length} result${hits.length === 1 ? '' : 's'} for “${q}” in command lines and (masked) recorded output.</p>
    <ul class="hits" id="hits">${items}</ul>`,
  );
}

function evidenceBlock(ev: EvidenceStatus): Raw {
  return html`<section class="card evidence ${ev.ok ? 'ok' : 'bad'}" id="evidence">
    <h2>Evidence ${ev.ok ? html`<span class="badge ok">verified</span>` : html`<span class="badge deny">FAILED</span>`}</h2>
    <p>Audit chain for this session's ${ev.chain.events} events (up to seq ${ev.chain.lastSeq}):
      ${ev.chain.ok ? html`<strong class="ok">intact</strong>` : html`<strong class="bad">broken</strong>`}</p>
    ${ev.chain.problems.length ? html`<ul class="problems">${ev.chain.problems.map((p) => html`<li>seq ${p.seq ?? '—'}: ${p.reason}</li>`)}</ul>` : ''}
    <ul class="recs">${ev.recordings.map(
      (r) => html`<li>${r.file}: ${r.ok ? html`<strong class="ok">SHA-256 matches its recording.sealed event</strong>` : html`<strong class="bad">${r.reason}</strong>`}</li>`,
    )}</ul>
    ${ev.recordings.length === 0 ? html`<p class="muted">No sealed recording.</p>` : ''}
  </section>`;
}

export function sessionPage(
  c: Chrome,
  s: SessionSummary,
  timeline: TimelineItem[],
  ev: EvidenceStatus,
  recordings: { file: string; channel: number | null }[],
  startAt: number,
  isLive: boolean,
): Raw {
  const id = encodeURIComponent(s.id);
  const items = timeline.map(
    (t) => html`<li class="ev ${t.kind}" data-t="${t.time.toFixed(3)}" tabindex="0" role="button" title="Play from ${t.time.toFixed(1)}s">
      <span class="time">${t.time.toFixed(1)}s</span>
      <span class="what">${t.label}</span>
      ${t.command ? html`<code class="cmd">${t.command}</code>` : ''}
      ${t.detail ? html`<span class="detail">${t.detail}</span>` : ''}
    </li>`,
  );
  return layout(
    { ...c, player: true },
    html`<h1>Session <span class="mono">${s.id}</span> ${isLive ? html`<a class="badge live" href="/live/${id}">live: watch</a>` : ''}</h1>
    <p class="meta"><span>${s.subject ?? '—'}</span> → <span>${s.target ?? '—'}</span> · ${fmtTs(s.start)} – ${s.end ? fmtTs(s.end) : 'open'}
      · ${s.commands} commands · ${s.denials} denied · ${s.approvals} approvals</p>
    <div class="session-grid">
      <section class="player-col">
        <div id="player" data-cast="/api/sessions/${id}/cast" data-start="${startAt}"></div>
        <div class="controls">
          <label>Speed <select id="speed"><option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option></select></label>
          <span class="muted" id="clock">0.0s</span>
        </div>
        <p class="downloads">Download:
          ${recordings.map((r) => html`<a href="/api/sessions/${id}/cast?channel=${r.channel ?? ''}" download>${r.file}</a> `)}
          <a href="/api/sessions/${id}/events" download>events (JSONL)</a>
        </p>
        ${evidenceBlock(ev)}
      </section>
      <section class="timeline-col">
        <h2>Timeline</h2>
        <ol class="timeline" id="timeline">${items}</ol>
      </section>
    </div>`,
  );
}

export function approvalsPage(c: Chrome, pending: PendingSummary[], canDecide: boolean): Raw {
  return layout(
    c,
    html`<h1>Approvals</h1>
    <p class="muted">Pending requests update live. ${canDecide ? '' : html`<strong>You can view but not decide (the approver role is needed).</strong>`}</p>
    <div id="approvals" data-can-decide="${canDecide ? '1' : '0'}" data-initial="${JSON.stringify(pending)}"></div>
    <p class="muted" id="approvals-status"></p>`,
  );
}

export function livePage(c: Chrome, sessions: LiveSessionInfo[]): Raw {
  const rows = sessions.map(
    (s) => html`<tr><td><a href="/live/${encodeURIComponent(s.session)}">${s.session}</a></td><td>${s.subject}</td><td>${s.target}</td><td>${fmtTs(s.startedAt)}</td><td>${s.client}</td></tr>`,
  );
  return layout(
    c,
    html`<h1>Live sessions</h1>
    <table class="list" id="live"><thead><tr><th>Session</th><th>Subject</th><th>Target</th><th>Started</th><th>Client</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="5" class="muted">No session is running.</td></tr>`}</tbody></table>`,
  );
}

export function watchPage(c: Chrome, s: LiveSessionInfo | null, id: string, canTerminate: boolean): Raw {
  const enc = encodeURIComponent(id);
  return layout(
    { ...c, player: true },
    html`<h1>Watching <span class="mono">${id}</span></h1>
    ${s ? html`<p class="meta">${s.subject} → ${s.target} · since ${fmtTs(s.startedAt)} · read-only</p>` : html`<p class="muted">This session is not running. <a href="/sessions/${enc}">Open its recording</a>.</p>`}
    <div class="live-screen" id="terminal" data-session="${id}" data-cast="/api/live/${enc}/cast" data-stream="/api/live/${enc}/stream" aria-live="polite"></div>
    <p class="muted" id="watch-status">connecting…</p>
    ${canTerminate && s
      ? html`<form class="terminate" id="terminate" data-url="/api/live/${enc}/terminate">
          <label>Reason <input name="reason" required maxlength="500" placeholder="why the session is ended"></label>
          <button type="submit" class="danger">Terminate session</button></form>`
      : ''}`,
  );
}

export function errorPage(c: Chrome, status: number, message: string): Raw {
  return layout(c, html`<section class="card narrow"><h1>${status}</h1><p>${message}</p><p><a href="/sessions">Back to sessions</a></p></section>`);
}
