// evstore console: the streams, a stream's events, a live tail of @all
// and the consumers, through the JSON API under /api/.
//
// Rule: content from the store (ids, types, data, metadata, tags, error
// messages) reaches the page as text only — textContent, text nodes —
// never as HTML. Nothing in this file parses a string as HTML, and
// TestNoHTMLSinks keeps it so.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ALL = '@all';
  const PAGE = 50; // events per page
  const STREAMS_PAGE = 100;
  const TAIL_ROWS = 500; // rows the live tail keeps
  const TOMBSTONE = '$deleted'; // evstore.Deleted

  // el builds an element: props.text becomes its text, props.class its
  // class, on* props listeners, the rest attributes; children are nodes
  // or strings (text nodes).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  // parseJSON keeps numbers exact: one that a double would round (a
  // 64-bit id, 0.10) keeps its source text, so that the page shows the
  // payload as stored. Browsers without JSON.rawJSON parse as usual.
  function parseJSON(text) {
    if (typeof JSON.rawJSON !== 'function') return JSON.parse(text);
    return JSON.parse(text, (key, value, ctx) =>
      typeof value === 'number' && ctx && ctx.source !== undefined && String(value) !== ctx.source
        ? JSON.rawJSON(ctx.source) : value);
  }

  // fmtTime shows an RFC 3339 UTC time as "2026-11-26 18:00:36.790".
  function fmtTime(s) {
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?\d*Z$/.exec(s || '');
    return m ? `${m[1]} ${m[2]}${m[3] || ''}` : (s || '');
  }

  const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;
  // The API's paths are relative to the page, so that a console served
  // under a path prefix (a proxy's /evstore/) calls the API under it too.
  const streamURL = (id) => 'api/streams/' + encodeURIComponent(id);
  const streamHash = (id) => '#/stream/' + encodeURIComponent(id);

  // ---- Errors -------------------------------------------------------

  function showError(msg) {
    $('error-text').textContent = msg;
    $('error').hidden = false;
  }
  function clearError() { $('error').hidden = true; }
  $('error-close').addEventListener('click', clearError);

  // report shows an error unless it is an aborted request.
  function report(err) {
    if (err && err.name === 'AbortError') return;
    showError(err && err.message ? err.message : String(err));
  }

  class APIError extends Error {
    constructor(status, body) {
      super(`${status}: ${(body && body.error) || 'request failed'}`);
      this.status = status;
      this.body = body || {};
    }
  }

  // ---- The token ----------------------------------------------------
  //
  // Kept in memory, and in sessionStorage (this tab only) when asked;
  // sent as a header, never as a cookie.

  const TOKEN_KEY = 'evstore-console-token';
  let token = '';
  try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { /* storage off */ }
  let asking = null; // the pending askToken, shared by every request that got a 401

  function askToken(why) {
    if (asking) return asking;
    asking = new Promise((resolve) => {
      const dialog = $('token-dialog');
      $('token-why').textContent = why;
      $('token').value = '';
      const done = (ev) => {
        ev.preventDefault();
        const value = $('token').value.trim();
        if (!value) return;
        token = value;
        try {
          if ($('token-remember').checked) sessionStorage.setItem(TOKEN_KEY, token);
          else sessionStorage.removeItem(TOKEN_KEY);
        } catch { /* storage off: memory only */ }
        $('token-form').removeEventListener('submit', done);
        dialog.close();
        $('forget-token').hidden = false;
        asking = null;
        resolve();
      };
      $('token-form').addEventListener('submit', done);
      dialog.showModal();
      $('token').focus();
    });
    return asking;
  }
  // Without a token nothing works: Escape does not close the dialog.
  $('token-dialog').addEventListener('cancel', (ev) => ev.preventDefault());
  $('forget-token').hidden = !token;
  $('forget-token').addEventListener('click', () => {
    token = '';
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage off */ }
    location.reload();
  });

  // ---- The API ------------------------------------------------------

  // request sends a request with the token, asking for one on a 401 and
  // trying again with it; it returns the Response, or throws an APIError.
  async function request(method, path, opts = {}) {
    for (;;) {
      const headers = new Headers(opts.headers);
      if (token) headers.set('Authorization', 'Bearer ' + token);
      const resp = await fetch(path, { method, headers, signal: opts.signal, cache: 'no-store', credentials: 'omit' });
      if (resp.status === 401) {
        await askToken(token ? 'The server refused that token. Enter another one.' : 'This server needs a token. It is sent as an Authorization header, never as a cookie.');
        continue;
      }
      if (!resp.ok) {
        let body = null;
        try { body = parseJSON(await resp.text()); } catch { /* not JSON */ }
        throw new APIError(resp.status, body);
      }
      return resp;
    }
  }

  async function getJSON(path, opts) {
    const resp = await request('GET', path, opts);
    return parseJSON(await resp.text());
  }

  // ---- An event's content, as text ----------------------------------

  // payload returns an event's data as {kind, text, preview}: JSON
  // pretty-printed, text as it is, other bytes as base64.
  function payload(e) {
    if (e.data !== undefined) {
      const pretty = JSON.stringify(e.data, null, 2);
      const kind = e.data_base64 !== undefined ? 'JSON (stored with other spacing)' : 'JSON';
      return { kind, text: pretty, preview: JSON.stringify(e.data) };
    }
    if (e.data_base64 === undefined) return { kind: 'empty', text: '', preview: '' };
    let bytes;
    try {
      bytes = Uint8Array.from(atob(e.data_base64), (c) => c.charCodeAt(0));
    } catch {
      return { kind: 'base64', text: e.data_base64, preview: e.data_base64 };
    }
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) {
        return { kind: `text, ${bytes.length} bytes`, text, preview: text };
      }
    } catch { /* not UTF-8 */ }
    return { kind: `binary, ${bytes.length} bytes, base64`, text: e.data_base64, preview: `binary, ${bytes.length} bytes` };
  }

  // ---- The selected event -------------------------------------------

  let selectedRow = null;

  function showEvent(e, row) {
    if (selectedRow) selectedRow.classList.remove('active');
    selectedRow = row;
    if (row) row.classList.add('active');
    $('detail-title').textContent = e.type;
    const fields = [
      ['Stream', e.stream_id], ['Version', e.version], ['Sequence', e.sequence],
      ['Key', e.id || '(none)'], ['Time', e.timestamp],
    ];
    $('detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
    const p = payload(e);
    $('detail-data-kind').textContent = p.kind;
    $('detail-data').textContent = p.text || '(empty)';
    $('detail-metadata').textContent = e.metadata ? JSON.stringify(e.metadata, null, 2) : '(none)';
    const tags = (e.tags || []).map((t) => el('span', { class: 'tag', text: t }));
    $('detail-tags').replaceChildren(...(tags.length ? tags : [el('span', { class: 'muted', text: '(none)' })]));
    $('detail').hidden = false;
  }

  function hideEvent() {
    if (selectedRow) selectedRow.classList.remove('active');
    selectedRow = null;
    $('detail').hidden = true;
  }
  $('detail-close').addEventListener('click', hideEvent);

  // ---- Views and routes ---------------------------------------------

  let view = '';

  function show(name) {
    if (view !== name) hideEvent();
    view = name;
    for (const v of ['streams', 'live', 'consumers']) {
      $('view-' + v).hidden = v !== name;
      $('nav-' + v).classList.toggle('active', v === name);
    }
  }

  function route() {
    const hash = location.hash.replace(/^#/, '') || '/';
    clearError();
    if (hash === '/live') {
      show('live');
      tail.unseen = 0;
      updateBadge();
      return;
    }
    if (hash === '/consumers') {
      show('consumers');
      loadConsumers().catch(report);
      return;
    }
    show('streams');
    let id = null;
    const m = /^\/stream\/(.+)$/.exec(hash);
    if (m) {
      try { id = decodeURIComponent(m[1]); } catch { id = null; }
    }
    openStream(id).catch(report);
  }
  window.addEventListener('hashchange', route);

  // ---- The stream list ----------------------------------------------

  const list = { prefix: '', next: null, shown: 0, seq: 0 };

  function streamItem(id, sub) {
    return el('li', null, el('a', { href: streamHash(id), 'data-id': id },
      el('span', { class: 'id', text: id, title: id }), el('span', { class: 'sub', text: sub })));
  }

  async function loadStreams(more) {
    const seq = ++list.seq;
    const q = new URLSearchParams({ limit: String(STREAMS_PAGE) });
    if (list.prefix) q.set('prefix', list.prefix);
    if (more && list.next) q.set('after', list.next);
    const body = await getJSON('api/streams?' + q);
    if (seq !== list.seq) return; // a newer search has started
    const ul = $('streams');
    if (!more) {
      ul.replaceChildren();
      list.shown = 0;
      if (ALL.startsWith(list.prefix)) ul.append(streamItem(ALL, 'every event, in Sequence order'));
    }
    for (const s of body.streams) {
      const last = s.last_timestamp ? ' · ' + fmtTime(s.last_timestamp).slice(0, 16) : '';
      ul.append(streamItem(s.stream_id, `v${s.version} · ${plural(s.event_count, 'event')}${last}`));
    }
    list.shown += body.streams.length;
    list.next = body.next || null;
    $('streams-more').hidden = !list.next;
    $('streams-count').textContent = list.shown === 0
      ? (list.prefix ? 'No stream starts with that.' : 'No streams yet.')
      : plural(list.shown, 'stream').replace(' ', list.next ? '+ ' : ' ');
    markStream();
  }

  function markStream() {
    for (const a of $('streams').querySelectorAll('a')) a.classList.toggle('active', a.dataset.id === sv.id);
  }

  let searchTimer = 0;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      list.prefix = $('search').value;
      loadStreams(false).catch(report);
    }, 200);
  });
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(searchTimer);
    list.prefix = $('search').value;
    loadStreams(false).catch(report);
  });
  $('streams-more').addEventListener('click', () => loadStreams(true).catch(report));

  // ---- A stream's events --------------------------------------------
  //
  // Pages of GET .../events, newest first unless "Oldest first". The
  // first page's max_sequence pins the view for the next ones; cursors
  // holds each page's start (before= or after=) for going back.

  const sv = { id: null, metrics: null, cursors: [], horizon: 0, more: false, last: null, seq: 0 };
  const position = (e) => (sv.id === ALL ? e.sequence : e.version);

  async function openStream(id) {
    hideEvent();
    sv.id = id;
    $('nav-streams').href = id === null ? '#/' : streamHash(id);
    markStream();
    $('stream-empty').hidden = id !== null;
    $('stream').hidden = id === null;
    if (id === null) return;
    $('stream-title').textContent = id;
    $('stream-title').title = id;
    $('stream-delete').hidden = id === ALL;
    $('pos-head').textContent = id === ALL ? 'Sequence' : 'Version';
    $('col4-head').textContent = id === ALL ? 'Stream' : 'Data';
    sv.cursors = [null];
    sv.horizon = 0;
    await Promise.all([loadMetrics(), loadPage()]);
  }

  async function loadMetrics() {
    const id = sv.id;
    const m = await getJSON(streamURL(id) + '/metrics');
    if (id !== sv.id) return;
    sv.metrics = m;
    const what = id === ALL ? `sequence ${m.version}` : `version ${m.version}`;
    const last = m.last_timestamp ? ` · last write ${fmtTime(m.last_timestamp)}` : '';
    $('stream-meta').textContent = `${what} · ${plural(m.event_count, 'event')}${last}`;
  }

  async function loadPage() {
    const id = sv.id;
    const seq = ++sv.seq;
    const back = !$('oldest-first').checked;
    const cursor = sv.cursors[sv.cursors.length - 1];
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (back) q.set('backwards', 'true');
    if (cursor !== null) q.set(back ? 'before' : 'after', String(cursor));
    if (sv.horizon) q.set('max_sequence', String(sv.horizon));
    const body = await getJSON(streamURL(id) + '/events?' + q);
    if (seq !== sv.seq) return; // another page was asked for since
    if (!sv.horizon && body.max_sequence) sv.horizon = body.max_sequence;
    sv.more = body.more;
    sv.last = body.events.length ? position(body.events[body.events.length - 1]) : null;
    $('events').replaceChildren(...body.events.map(eventRow));
    if (!body.events.length) {
      $('events').append(el('tr', { class: 'empty-row' }, el('td', { colspan: '4', class: 'muted', text: 'No events.' })));
    }
    const page = sv.cursors.length;
    $('page-info').textContent = body.events.length
      ? `Page ${page} · ${id === ALL ? 'sequence' : 'version'} ${position(body.events[0])}–${sv.last}`
      : `Page ${page}`;
    $('page-prev').disabled = page === 1;
    $('page-next').disabled = !sv.more;
    $('page-prev').textContent = back ? '‹ Newer' : '‹ Earlier';
    $('page-next').textContent = back ? 'Older ›' : 'Later ›';
  }

  // eventRow is a row of a stream's events; on @all its last column is
  // the stream, else a preview of the data.
  function eventRow(e) {
    const row = el('tr', { onclick: () => showEvent(e, row) },
      el('td', { class: 'num', text: String(position(e)) }),
      el('td', { text: e.type, title: e.type }),
      el('td', { text: fmtTime(e.timestamp), title: e.timestamp }),
      sv.id === ALL
        ? el('td', { class: 'mono', text: e.stream_id, title: e.stream_id })
        : el('td', { class: 'mono', text: payload(e).preview }));
    return row;
  }

  $('page-next').addEventListener('click', () => {
    if (!sv.more) return;
    sv.cursors.push(sv.last);
    hideEvent();
    loadPage().catch(report);
  });
  $('page-prev').addEventListener('click', () => {
    if (sv.cursors.length < 2) return;
    sv.cursors.pop();
    hideEvent();
    loadPage().catch(report);
  });
  $('oldest-first').addEventListener('change', () => { if (sv.id !== null) openStream(sv.id).catch(report); });
  $('stream-refresh').addEventListener('click', () => {
    if (sv.id === null) return;
    openStream(sv.id).catch(report);
    loadStreams(false).catch(report);
  });

  // An event of the open stream from the live tail joins its first page
  // when that page shows the newest events.
  function streamSaw(e) {
    if (sv.id === null || (sv.id !== ALL && e.stream_id !== sv.id)) return;
    if (e.type === TOMBSTONE && sv.id !== ALL) { openStream(sv.id).catch(report); return; }
    loadMetrics().catch(report);
    if (sv.cursors.length !== 1 || $('oldest-first').checked || e.sequence <= sv.horizon) return;
    const row = eventRow(e);
    row.classList.add('fresh');
    const empty = $('events').querySelector('.empty-row');
    if (empty) empty.remove();
    $('events').prepend(row);
  }

  // ---- Delete -------------------------------------------------------
  //
  // DELETE with expected_version: the version the page showed, so that a
  // stream written to since is not deleted unseen (409).

  $('stream-delete').addEventListener('click', () => {
    if (sv.id === null || sv.id === ALL || !sv.metrics) return;
    $('delete-id').textContent = sv.id;
    $('delete-count').textContent = `${sv.metrics.event_count} events, version ${sv.metrics.version}`;
    $('delete-dialog').returnValue = '';
    $('delete-dialog').showModal();
    $('delete-cancel').focus();
  });
  $('delete-dialog').addEventListener('close', async () => {
    if ($('delete-dialog').returnValue !== 'delete') return;
    const id = sv.id;
    const q = new URLSearchParams({ expected_version: String(sv.metrics.version) });
    try {
      await request('DELETE', streamURL(id) + '?' + q);
    } catch (err) {
      if (err.status === 409) {
        report(new Error(`Not deleted: ${id} changed since the page showed it (version ${err.body.actual}, not ${err.body.expected}). Look again, then delete.`));
      } else {
        report(err);
      }
      return;
    }
    if (sv.id === id) openStream(id).catch(report);
    loadStreams(false).catch(report);
  });

  // ---- The live tail of @all ----------------------------------------
  //
  // GET /api/streams/@all/watch read with fetch, which can send the
  // token (EventSource cannot). It starts after the newest Sequence when
  // the page opened, and resumes after the last event it got with
  // Last-Event-ID: no gap, no duplicate.

  const tail = { ctrl: null, lastId: null, paused: false, retry: 1000, unseen: 0, rows: 0 };

  function setStatus(state, text) {
    const s = $('live-status');
    s.dataset.state = state;
    s.textContent = text || state;
  }

  function updateBadge() {
    const b = $('live-badge');
    b.hidden = tail.unseen === 0;
    b.textContent = tail.unseen > 999 ? '999+' : String(tail.unseen);
  }

  async function startTail() {
    if (tail.ctrl || tail.paused) return;
    const ctrl = new AbortController();
    tail.ctrl = ctrl;
    setStatus('connecting', 'connecting…');
    try {
      if (tail.lastId === null) {
        const head = await getJSON(streamURL(ALL) + '/head', { signal: ctrl.signal });
        tail.lastId = String(head.version);
        $('server-info').textContent = `@all at sequence ${head.version}`;
      }
      const resp = await request('GET', streamURL(ALL) + '/watch', {
        signal: ctrl.signal,
        headers: { Accept: 'text/event-stream', 'Last-Event-ID': tail.lastId },
      });
      setStatus('live', 'live');
      await readSSE(resp.body, tailMessage);
      setStatus('connecting', 'reconnecting…');
    } catch (err) {
      if (err.name === 'AbortError') return;
      setStatus('error', 'reconnecting: ' + (err.message || err));
    } finally {
      if (tail.ctrl === ctrl) tail.ctrl = null;
    }
    setTimeout(startTail, tail.retry);
  }

  function stopTail() {
    if (tail.ctrl) tail.ctrl.abort();
    tail.ctrl = null;
  }

  // readSSE reads a text/event-stream body and calls onMessage with each
  // message {id, event, data}, as the EventSource parser would.
  async function readSSE(body, onMessage) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let data = [];
    let event = '';
    let id = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let end;
      while ((end = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, end);
        buf = buf.slice(end + (buf.startsWith('\r\n', end) ? 2 : 1));
        if (line === '') {
          if (data.length) onMessage({ id, event: event || 'message', data: data.join('\n') });
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'data') data.push(v);
        else if (field === 'event') event = v;
        else if (field === 'id' && !v.includes('\0')) id = v;
        else if (field === 'retry' && /^\d+$/.test(v)) tail.retry = Number(v);
      }
    }
  }

  function tailMessage(m) {
    if (m.event === 'error') {
      // The server's Watch ended (the store closing); reconnect later.
      let msg = m.data;
      try { msg = parseJSON(m.data).error; } catch { /* as it is */ }
      setStatus('error', 'ended: ' + msg);
      return;
    }
    const e = parseJSON(m.data);
    if (m.id !== null) tail.lastId = m.id;
    $('server-info').textContent = `@all at sequence ${e.sequence}`;
    const row = el('tr', { class: 'fresh', onclick: () => showEvent(e, row) },
      el('td', { class: 'num', text: String(e.sequence) }),
      el('td', { class: 'mono' }, el('a', { href: streamHash(e.stream_id), text: e.stream_id, title: e.stream_id, onclick: (ev) => ev.stopPropagation() })),
      el('td', { class: 'num', text: String(e.version) }),
      el('td', { text: e.type, title: e.type }),
      el('td', { text: fmtTime(e.timestamp), title: e.timestamp }));
    const tbody = $('live');
    tbody.prepend(row);
    if (++tail.rows > TAIL_ROWS) {
      tbody.lastChild.remove();
      tail.rows--;
    }
    $('live-empty').hidden = true;
    if (view !== 'live') {
      tail.unseen++;
      updateBadge();
    }
    streamSaw(e);
  }

  $('live-pause').addEventListener('click', () => {
    tail.paused = !tail.paused;
    $('live-pause').textContent = tail.paused ? 'Resume' : 'Pause';
    if (tail.paused) {
      stopTail();
      setStatus('off', 'paused');
    } else {
      startTail();
    }
  });
  $('live-clear').addEventListener('click', () => {
    $('live').replaceChildren();
    tail.rows = 0;
    $('live-empty').hidden = false;
    hideEvent();
  });

  // ---- Consumers ----------------------------------------------------

  async function loadConsumers() {
    const body = await getJSON('api/consumers');
    const rows = body.consumers.map((c) => el('tr', null,
      el('td', { class: 'mono', text: c.name + (c.external ? ' (external position)' : ''), title: c.name }),
      el('td', { class: 'num', text: c.members ? `${c.partition} of ${c.members}` : '–' }),
      el('td', { class: 'num', text: String(c.position) }),
      el('td', { class: 'num', text: (c.lag_exact ? '' : '≥ ') + c.lag, title: c.lag_exact ? 'events left to handle' : 'at least this many events left (counting stopped)' }),
      el('td', { class: 'num', text: String(c.sequences_behind) }),
      el('td', { text: fmtTime(c.updated), title: c.updated })));
    $('consumers').replaceChildren(...rows);
    $('consumers-empty').hidden = rows.length > 0;
  }
  $('consumers-refresh').addEventListener('click', () => loadConsumers().catch(report));

  // ---- Start --------------------------------------------------------

  route();
  loadStreams(false).catch(report);
  startTail();
})();
