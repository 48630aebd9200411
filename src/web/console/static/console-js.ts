// Served as a file (pages carry no inline script or style). Raw string: no backtick or dollar-brace inside.
export const CONSOLE_JS = String.raw`/* shellgate console: small, dependency-free; every string from the server is set with textContent. */
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var page = document.body.getAttribute('data-page');

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf || '' },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
        return j;
      });
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  var logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', function () {
      post('/auth/logout').then(go, go);
      function go() { location.href = '/login'; }
    });
  }

  if (page === 'session') sessionPage();
  if (page === 'approvals') approvalsPage();
  if (page === 'watch') watchPage();

  function sessionPage() {
    var box = document.getElementById('player');
    if (!box || typeof AsciinemaPlayer === 'undefined') return;
    var src = box.getAttribute('data-cast');
    var start = parseFloat(box.getAttribute('data-start') || '0') || 0;
    var speed = 1;
    var player = null;
    var clock = document.getElementById('clock');
    function create(at, play) {
      if (player) { player.dispose(); box.textContent = ''; }
      player = AsciinemaPlayer.create(src, box, {
        speed: speed, autoPlay: false, preload: true, controls: true, fit: 'width', terminalFontFamily: 'monospace'
      });
      window.shellgatePlayer = player;
      // seek() loads the recording first when needed; startAt would wait for the first play.
      if (at > 0 || play) {
        var p = player;
        window.shellgatePlayerSeeked = p.seek(at).then(function () { if (play) p.play(); });
      }
    }
    create(start, false);
    setInterval(function () {
      if (player && clock) {
        var t = player.getCurrentTime();
        if (typeof t === 'number') clock.textContent = t.toFixed(1) + 's';
      }
    }, 200);
    var speedSel = document.getElementById('speed');
    if (speedSel) {
      speedSel.addEventListener('change', function () {
        speed = parseFloat(speedSel.value) || 1;
        var t = player ? player.getCurrentTime() : 0;
        create(typeof t === 'number' ? t : 0, true);
      });
    }
    var items = document.querySelectorAll('#timeline li[data-t]');
    function seekTo(li) {
      var t = parseFloat(li.getAttribute('data-t') || '0') || 0;
      for (var i = 0; i < items.length; i++) items[i].classList.remove('current');
      li.classList.add('current');
      player.seek(t);
    }
    for (var i = 0; i < items.length; i++) {
      (function (li) {
        li.addEventListener('click', function () { seekTo(li); });
        li.addEventListener('keydown', function (ev) {
          if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); seekTo(li); }
        });
      })(items[i]);
    }
  }

  function approvalsPage() {
    var box = document.getElementById('approvals');
    var status = document.getElementById('approvals-status');
    var canDecide = box.getAttribute('data-can-decide') === '1';
    var list = [];
    try { list = JSON.parse(box.getAttribute('data-initial') || '[]'); } catch (e) { list = []; }
    var busy = {};
    function left(iso) {
      var s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
      return s >= 60 ? Math.floor(s / 60) + 'm ' + (s % 60) + 's' : s + 's';
    }
    function render() {
      // Keep a half-typed reason: rebuild only when the set of requests changed.
      var ids = list.map(function (a) { return a.id + ':' + a.approvals; }).join(',');
      if (box.getAttribute('data-ids') === ids) {
        var spans = box.querySelectorAll('[data-expires]');
        for (var i = 0; i < spans.length; i++) spans[i].textContent = left(spans[i].getAttribute('data-expires'));
        return;
      }
      box.setAttribute('data-ids', ids);
      box.textContent = '';
      if (list.length === 0) { box.appendChild(el('p', 'muted empty', 'No pending requests.')); return; }
      list.forEach(function (a) {
        var card = el('article', 'card approval');
        card.setAttribute('data-id', a.id);
        var h = el('h2', null, '#' + a.id + ' ');
        var tl = el('span', 'badge time', left(a.expiresAt));
        tl.setAttribute('data-expires', a.expiresAt);
        h.appendChild(tl);
        card.appendChild(h);
        card.appendChild(el('pre', 'cmd', a.command));
        var dl = el('dl', 'facts');
        [['Subject', a.subject + (a.groups && a.groups.length ? ' (' + a.groups.join(', ') + ')' : '')],
         ['Target', a.target], ['Rule', a.rule], ['Session', a.session],
         ['Approvals', a.approvals + ' of ' + a.approvers + (a.approvedBy && a.approvedBy.length ? ' (' + a.approvedBy.join(', ') + ')' : '')],
         ['Approver groups', a.approverGroups && a.approverGroups.length ? a.approverGroups.join(', ') : 'any approver']
        ].forEach(function (kv) { dl.appendChild(el('dt', null, kv[0])); dl.appendChild(el('dd', null, kv[1])); });
        card.appendChild(dl);
        if (canDecide) {
          var form = el('form', 'decide');
          var reason = el('input');
          reason.name = 'reason'; reason.placeholder = 'reason (required to deny)'; reason.maxLength = 1000;
          reason.setAttribute('aria-label', 'reason');
          var ok = el('button', 'primary approve', 'Approve'); ok.type = 'button';
          var no = el('button', 'danger deny', 'Deny'); no.type = 'button';
          var msg = el('span', 'msg');
          function decide(what) {
            if (busy[a.id]) return;
            busy[a.id] = true;
            msg.textContent = 'sending…';
            post('/api/approvals/' + encodeURIComponent(a.id) + '/' + what, reason.value ? { reason: reason.value } : {})
              .then(function (r) { msg.textContent = 'recorded: ' + r.status; refresh(); },
                    function (e) { msg.textContent = e.message; })
              .then(function () { busy[a.id] = false; });
          }
          ok.addEventListener('click', function () { decide('approve'); });
          no.addEventListener('click', function () { decide('deny'); });
          form.addEventListener('submit', function (ev) { ev.preventDefault(); });
          form.appendChild(reason); form.appendChild(ok); form.appendChild(no); form.appendChild(msg);
          card.appendChild(form);
        }
        box.appendChild(card);
      });
    }
    function refresh() {
      fetch('/api/approvals', { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
        .then(function (j) { list = j; render(); status.textContent = 'updated ' + new Date().toLocaleTimeString(); },
              function (e) { status.textContent = 'update failed: ' + e.message; });
    }
    render();
    setInterval(refresh, 2000);
    setInterval(render, 1000);
  }

  function watchPage() {
    var box = document.getElementById('terminal');
    var status = document.getElementById('watch-status');
    if (typeof AsciinemaPlayer !== 'undefined') {
      // The running session on a terminal screen: the player reads the asciicast event stream
      // (backlog first, then live output; bufferTime 0: shown as it arrives).
      var player = AsciinemaPlayer.create({ driver: 'eventsource', url: box.getAttribute('data-cast'), bufferTime: 0 }, box, {
        autoPlay: true, fit: 'width', terminalFontFamily: 'monospace'
      });
      window.shellgatePlayer = player;
      status.textContent = 'watching (read-only)';
      // The session's end, from the list of running sessions (the player's stream ends too).
      var id = box.getAttribute('data-session');
      var poll = setInterval(function () {
        fetch('/api/live', { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : null; }).then(function (list) {
          if (list && !list.some(function (x) { return x.session === id; })) {
            status.textContent = 'the session ended';
            clearInterval(poll);
          }
        }, function () {});
      }, 2000);
    } else {
      // Without the player: text only, control sequences out.
      var term = document.createElement('pre');
      term.className = 'terminal';
      box.appendChild(term);
      var MAX = 200000;
      var es = new EventSource(box.getAttribute('data-stream'));
      es.addEventListener('ready', function () { status.textContent = 'watching (read-only)'; });
      es.addEventListener('output', function (ev) {
        var d = JSON.parse(ev.data);
        var text = String(d.data).replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g, '').replace(/\u001b\[[0-?]*[ -\/]*[@-~]/g, '').replace(/\r/g, '');
        term.textContent = (term.textContent + text).slice(-MAX);
        term.scrollTop = term.scrollHeight;
      });
      es.addEventListener('end', function () { status.textContent = 'the session ended'; es.close(); });
      es.onerror = function () { if (es.readyState === 2) status.textContent = 'not running'; };
    }
    var form = document.getElementById('terminate');
    if (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var reason = form.querySelector('input[name="reason"]').value;
        post(form.getAttribute('data-url'), { reason: reason })
          .then(function () { status.textContent = 'terminated'; }, function (e) { status.textContent = e.message; });
      });
    }
  }
})();
`;
