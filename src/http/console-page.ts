/**
 * The web console (/console): one static page, vanilla JS and CSS, no build step. It is a
 * TS module rather than an .html file so that it is found in dist/ and in a bundled binary.
 * The page holds no data: the script asks the admin API with the Bearer key typed into it
 * (kept in sessionStorage, never in a URL). Everything shown goes through textContent, never
 * innerHTML, so a UID or group name cannot inject markup.
 */

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c0392b; --ok: #2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; padding: 0 1rem 2rem; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; border-bottom: 1px solid var(--line); padding: .6rem 0; }
h1 { font-size: 1.15rem; margin: 0; }
h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
form { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; margin: 0; }
input { font: inherit; padding: .2rem .4rem; }
button { font: inherit; padding: .2rem .6rem; cursor: pointer; }
button:disabled { cursor: default; opacity: .5; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0 2rem; }
.muted { color: var(--muted); }
.pager { display: flex; gap: .4rem; align-items: center; margin-top: .4rem; }
#status { min-height: 1.4em; margin: .4rem 0; }
#status.error { color: var(--bad); }
#status.ok { color: var(--ok); }
.rates { display: flex; gap: 2rem; flex-wrap: wrap; }
.rate b { font-size: 1.3rem; font-variant-numeric: tabular-nums; }
`;

export const CONSOLE_JS = `
'use strict';
const KEY_ITEM = 'iotsocket.console.key';
const PAGE_SIZE = 20;
const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);
const view = { cursor: null, back: [], next: null, uid: '', group: '' };
let previous = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', c));
  return tr;
}

function wrap(node) {
  const td = document.createElement('td');
  td.append(node);
  return td;
}

/** Replaces the rows only when the data changed, so a button is not swapped out under the pointer by a poll. */
function fill(tbody, data, toRow, empty, columns) {
  const signature = JSON.stringify([data, empty]);
  if (tbody.dataset.signature === signature) return;
  tbody.dataset.signature = signature;
  const rows = data.map(toRow);
  if (rows.length === 0) {
    const td = el('td', empty, 'muted');
    td.colSpan = columns;
    const tr = document.createElement('tr');
    tr.append(td);
    tbody.replaceChildren(tr);
  } else {
    tbody.replaceChildren(...rows);
  }
}

function say(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.className = kind || '';
}

async function api(method, path) {
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) throw new Error('enter the admin key (the central auth key in hex) first');
  const res = await fetch(path, { method, headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' });
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.message) || 'HTTP ' + res.status);
  return body;
}

function button(label, onClick) {
  const b = el('button', label);
  b.type = 'button';
  b.addEventListener('click', () => {
    b.disabled = true;
    onClick().catch((err) => say(err.message, 'error')).finally(() => { b.disabled = false; });
  });
  return b;
}

async function loadSessions() {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (view.cursor !== null) q.set('cursor', view.cursor);
  if (view.uid) q.set('uid', view.uid);
  if (view.group) q.set('group', view.group);
  const page = await api('GET', '/sessions?' + q);
  view.next = page.next;
  fill($('sessions'), page.sessions, (s) => row([
    s.Kind === 'central' ? el('span', '(central)', 'muted') : s.UID, s.Group, s.Kind, s.State, s.Peer, s.TLS ? 'yes' : 'no', new Date(s.Since).toLocaleString(), s.Buffered, s.Node,
    button('Kick', () => kick(s.UID)),
  ]), 'no session' + (view.uid || view.group ? ' matches the filter' : ''), 10);
  $('prev').disabled = view.back.length === 0;
  $('next').disabled = view.next === null;
  $('page').textContent = 'page ' + (view.back.length + 1);
}

async function kick(uid) {
  await api('DELETE', '/sessions/' + encodeURIComponent(uid));
  say('session ' + JSON.stringify(uid) + ' ended (Close 0x01)', 'ok');
  await loadSessions();
}

async function loadBans() {
  const { bans } = await api('GET', '/admin/bans');
  fill($('bans'), bans, (b) => row([b.IP, new Date(b.Until).toLocaleString(), button('Lift', () => lift(b.IP))]), 'no IP is banned', 3);
}

async function lift(ip) {
  await api('DELETE', '/admin/bans/' + encodeURIComponent(ip));
  say('ban on ' + ip + ' lifted', 'ok');
  await loadBans();
}

async function loadAcl() {
  const entries = await api('GET', '/acl');
  $('acl-count').textContent = '(' + entries.length + ')';
  fill($('acl'), entries, (e) => row([e.UID, e.GroupName]), 'the ACL is empty', 2);
}

/** Prometheus text to [{ name, labels, value }]: only what the console reads. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\\w:]*)(?:\\{(.*)\\})? (\\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const p of (m[2] || '').matchAll(/(\\w+)="((?:[^"\\\\]|\\\\.)*)"/g)) labels[p[1]] = p[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function sum(samples, name, where) {
  return samples.filter((s) => s.name === name && (!where || where(s.labels))).reduce((a, s) => a + s.value, 0);
}

async function loadRates() {
  const res = await fetch('/metrics', { cache: 'no-store' });
  if (!res.ok) throw new Error('/metrics: HTTP ' + res.status);
  const samples = parseMetrics(await res.text());
  const now = performance.now();
  const totals = {
    requests: sum(samples, 'iotsocket_requests_total'),
    telemetry: sum(samples, 'iotsocket_telemetry_datagrams_total', (l) => l.result === 'accepted'),
  };
  const perSec = (k) => (previous && now > previous.at ? Math.max(0, (totals[k] - previous.totals[k]) * 1000 / (now - previous.at)) : null);
  for (const k of Object.keys(totals)) {
    const r = perSec(k);
    $('rate-' + k).textContent = r === null ? '…' : r.toFixed(1);
    $('total-' + k).textContent = String(totals[k]);
  }
  previous = { at: now, totals };
  const refusals = [];
  for (const s of samples) {
    if (s.value === 0) continue;
    if (s.name === 'iotsocket_handshakes_total' && s.labels.result === 'refused') refusals.push(['handshake', s.labels.reason, s.value]);
    if (s.name === 'iotsocket_requests_refused_total') refusals.push(['request', s.labels.reason, s.value]);
    if (s.name === 'iotsocket_telemetry_datagrams_total' && s.labels.result === 'dropped') refusals.push(['telemetry', s.labels.reason, s.value]);
  }
  refusals.sort((a, b) => b[2] - a[2]);
  fill($('refusals'), refusals, ([kind, reason, n]) => {
    const tr = row([kind, reason]);
    tr.append(el('td', n, 'num'));
    return tr;
  }, 'nothing refused yet', 3);
}

async function refresh() {
  const results = await Promise.allSettled([loadSessions(), loadBans(), loadAcl(), loadRates()]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) say(failed.reason.message, 'error');
  else if ($('status').className === 'error') say('');
}

function showKeyState() {
  const has = sessionStorage.getItem(KEY_ITEM) !== null;
  $('key-state').textContent = has ? 'key set for this tab' : 'no key';
  $('forget').disabled = !has;
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('key').value.trim();
  if (!/^[0-9a-fA-F]{32}$/.test(key)) return say('the admin key is the central auth key: 32 hex digits', 'error');
  sessionStorage.setItem(KEY_ITEM, key);
  $('key').value = '';
  showKeyState();
  say('');
  void refresh();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_ITEM);
  showKeyState();
  say('key forgotten');
});
$('filter-form').addEventListener('submit', (e) => {
  e.preventDefault();
  view.uid = $('filter-uid').value.trim();
  view.group = $('filter-group').value.trim();
  view.cursor = null;
  view.back = [];
  loadSessions().catch((err) => say(err.message, 'error'));
});
$('next').addEventListener('click', () => {
  if (view.next === null) return;
  view.back.push(view.cursor);
  view.cursor = view.next;
  loadSessions().catch((err) => say(err.message, 'error'));
});
$('prev').addEventListener('click', () => {
  if (view.back.length === 0) return;
  view.cursor = view.back.pop();
  loadSessions().catch((err) => say(err.message, 'error'));
});

showKeyState();
if (sessionStorage.getItem(KEY_ITEM) !== null) void refresh();
setInterval(() => { if (sessionStorage.getItem(KEY_ITEM) !== null) void refresh(); }, POLL_MS);
`;

const BODY = `
<header>
  <h1>IoTSocket concentrator</h1>
  <form id="key-form" autocomplete="off">
    <label for="key">Admin key</label>
    <input id="key" type="password" placeholder="central auth key (hex)" size="34" spellcheck="false">
    <button type="submit">Use</button>
    <button type="button" id="forget">Forget</button>
    <span id="key-state" class="muted"></span>
  </form>
</header>
<p id="status" role="status" aria-live="polite"></p>
<section>
  <h2>Rates <span class="muted">(from /metrics, every 2 s)</span></h2>
  <div class="rates">
    <div class="rate">requests/s <b id="rate-requests">…</b> <span class="muted">total <span id="total-requests">…</span></span></div>
    <div class="rate">telemetry/s <b id="rate-telemetry">…</b> <span class="muted">total <span id="total-telemetry">…</span></span></div>
  </div>
</section>
<section>
  <h2>Sessions</h2>
  <form id="filter-form">
    <input id="filter-uid" placeholder="UID contains" spellcheck="false">
    <input id="filter-group" placeholder="group" spellcheck="false">
    <button type="submit">Filter</button>
  </form>
  <table>
    <thead><tr><th>UID</th><th>Group</th><th>Kind</th><th>State</th><th>Peer</th><th>TLS</th><th>Since</th><th>Buffered</th><th>Node</th><th></th></tr></thead>
    <tbody id="sessions"></tbody>
  </table>
  <div class="pager"><button type="button" id="prev" disabled>Previous</button><span id="page" class="muted">page 1</span><button type="button" id="next" disabled>Next</button></div>
</section>
<div class="grid">
  <section>
    <h2>Refusals by reason</h2>
    <table><thead><tr><th>Kind</th><th>Reason</th><th class="num">Total</th></tr></thead><tbody id="refusals"></tbody></table>
  </section>
  <section>
    <h2>Banned IPs</h2>
    <table><thead><tr><th>IP</th><th>Until</th><th></th></tr></thead><tbody id="bans"></tbody></table>
  </section>
  <section>
    <h2>ACL <span id="acl-count" class="muted"></span> <span class="muted">(keys are never shown)</span></h2>
    <table><thead><tr><th>UID</th><th>Group</th></tr></thead><tbody id="acl"></tbody></table>
  </section>
</div>
`;

/** The whole document; the CSP in console.ts allows exactly this style and script. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>IoTSocket console</title>
<style>${CONSOLE_CSS}</style>
</head>
<body>${BODY}<script>${CONSOLE_JS}</script>
</body>
</html>
`;
