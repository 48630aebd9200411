// Served as a file (pages carry no inline script or style). Raw string: no backtick or dollar-brace inside.
export const CONSOLE_CSS = String.raw`:root { --fg: #1d232b; --muted: #667085; --line: #d9dee5; --bg: #f6f7f9; --card: #fff; --accent: #2459c7; --ok: #18794e; --bad: #b42318; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #18202b; color: #e8ecf1; }
header.top a { color: #e8ecf1; }
.brand { font-weight: 700; letter-spacing: .02em; font-size: 16px; }
header nav { display: flex; gap: 16px; }
header nav a { padding: 4px 2px; border-bottom: 2px solid transparent; }
header nav a.on { border-bottom-color: #7aa2ff; }
.who { margin-left: auto; display: flex; gap: 10px; align-items: center; }
.who .roles { color: #a9b4c2; font-size: 12px; }
button.linkish { background: none; border: 1px solid #566274; color: #e8ecf1; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
main { padding: 20px 24px; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 15px; margin: 0 0 8px; }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.error { color: var(--bad); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin-bottom: 12px; }
.narrow { max-width: 460px; margin: 40px auto; }
.button, button { display: inline-block; border: 1px solid var(--line); background: #fff; border-radius: 4px; padding: 6px 12px; cursor: pointer; font: inherit; color: var(--fg); }
.button.primary, button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
input, select { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
form.search { display: flex; gap: 8px; margin-bottom: 12px; }
form.search input { flex: 1; max-width: 600px; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: end; margin-bottom: 14px; padding: 10px 12px; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
form.filters label.check { flex-direction: row; align-items: center; gap: 6px; color: var(--fg); font-size: 13px; height: 32px; }
form.filters button { height: 32px; }
form.filters a.muted { line-height: 32px; }
table.list { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
table.list th, table.list td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list th { background: #eef1f5; font-weight: 600; font-size: 12px; color: #475467; }
td.num { white-space: nowrap; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; background: #eef1f5; color: #344054; }
.badge.deny { background: #fee4e2; color: var(--bad); }
.badge.approve { background: #fef0c7; color: var(--warn); }
.badge.ok { background: #d1fadf; color: var(--ok); }
.badge.live { background: #d1e0ff; color: #1d4ed8; }
.badge.time { background: #fef0c7; color: var(--warn); }
strong.ok { color: var(--ok); }
strong.bad { color: var(--bad); }
.meta { color: var(--muted); margin: -4px 0 14px; }
.session-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(280px, 2fr); gap: 18px; align-items: start; }
.player-col #player { min-height: 120px; background: #121314; border-radius: 6px; overflow: hidden; }
.controls { display: flex; gap: 14px; align-items: center; margin: 8px 0; }
.downloads a { margin-right: 10px; }
.evidence.bad { border-color: var(--bad); }
.evidence ul { margin: 6px 0 0; padding-left: 18px; }
.timeline-col { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; max-height: 80vh; overflow: auto; }
ol.timeline { list-style: none; margin: 0; padding: 0; }
ol.timeline li { display: grid; grid-template-columns: 56px 1fr; gap: 2px 8px; padding: 6px 8px; border-left: 3px solid var(--line); margin-bottom: 4px; cursor: pointer; border-radius: 0 4px 4px 0; }
ol.timeline li:hover, ol.timeline li:focus, ol.timeline li.current { background: #eef3ff; outline: none; }
ol.timeline li .time { color: var(--muted); font-size: 12px; grid-row: span 3; font-variant-numeric: tabular-nums; }
ol.timeline li .what { font-weight: 600; }
ol.timeline li .cmd { grid-column: 2; white-space: pre-wrap; word-break: break-all; background: #f2f4f7; padding: 2px 6px; border-radius: 3px; }
ol.timeline li .detail { grid-column: 2; color: var(--muted); font-size: 12px; }
ol.timeline li.allow { border-left-color: var(--ok); }
ol.timeline li.deny { border-left-color: var(--bad); }
ol.timeline li.approve, ol.timeline li.approval { border-left-color: var(--warn); }
ol.timeline li.result { border-left-color: #98a2b3; }
ul.hits { list-style: none; padding: 0; }
ul.hits li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin-bottom: 8px; }
pre.snippet { margin: 6px 0 0; white-space: pre-wrap; word-break: break-all; background: #f2f4f7; padding: 6px 8px; border-radius: 4px; }
.approval pre.cmd { background: #121314; color: #e8ecf1; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: 140px 1fr; gap: 2px 12px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
form.decide { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
form.decide input { flex: 1; min-width: 220px; }
form.decide .msg { color: var(--muted); }
pre.terminal { background: #121314; color: #e8ecf1; min-height: 300px; max-height: 70vh; overflow: auto; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
form.terminate { display: flex; gap: 10px; align-items: end; margin-top: 10px; }
form.terminate label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
form.terminate input { min-width: 320px; }
@media (max-width: 900px) { .session-grid { grid-template-columns: 1fr; } }
`;
