// app.js is the console's core: the router (one page module per #/<page>, in pages/), the API
// and shell helpers every page uses, the shared event stream, sign-in, and the "Commands run"
// panel that shows each cmdlet a page ran, as the EAC shows them. No framework, no build step.

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// api fetches an admin API path: JSON in and out unless opts.text (a string back) is set. A 401
// opens the sign-in dialog and rejects.
export async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: { 'X-Exlab-Console': '1' }, credentials: 'same-origin' };
  if (opts.body !== undefined) {
    init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    init.headers['Content-Type'] = opts.contentType || 'application/json';
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    signIn();
    throw new ApiError(401, 'Unauthorized', 'sign in with the admin token');
  }
  const text = await res.text();
  if (!res.ok) {
    let code = String(res.status), msg = text;
    try { const e = JSON.parse(text).error; code = e.code; msg = e.message; } catch { /* plain text */ }
    throw new ApiError(res.status, code, msg);
  }
  if (opts.text) return text;
  return text ? JSON.parse(text) : null;
}

// PowerShell's single-quoted string: nothing inside is expanded.
export function psQuote(s) { return "'" + String(s).replace(/'/g, "''") + "'"; }

let shellSession = '';
const cmdletList = () => document.getElementById('cmdlets-list');

// shell runs a script in the console's Exchange Management Shell session (POST /api/v1/shell)
// and lists it under "Commands run" with its output. It resolves to the ShellResult; a failed
// script (a terminating error) rejects unless opts.allowFail.
export async function shell(script, opts = {}) {
  const r = await api('/api/v1/shell', { method: 'POST', body: { Script: script, Session: shellSession } });
  shellSession = r.Session;
  if (!opts.quiet) logCmdlet(script, r);
  if (r.Failed && !opts.allowFail) throw new ApiError(422, 'CmdletFailed', (r.Errors || r.Output).trim());
  return r;
}

// cmdletObjects runs a Get- cmdlet through ConvertTo-Json and returns its objects as an array
// (the property values as the shell shows them).
export async function cmdletObjects(script, opts = {}) {
  const r = await shell(script + ' | ConvertTo-Json -Depth 3', opts);
  const out = r.Output.trim();
  if (!out) return [];
  const v = JSON.parse(out);
  return Array.isArray(v) ? v : [v];
}

function logCmdlet(script, r) {
  const li = h('li', {}, h('code', {}, script));
  if (r.Errors && r.Errors.trim()) li.append(h('pre', { class: 'error' }, r.Errors.trim()));
  cmdletList().prepend(li);
  document.getElementById('cmdlets-count').textContent = String(cmdletList().children.length);
}

// h builds an element: attributes (on* are listeners, class, aria-*, data-*), then children
// (strings become text nodes; null and false are skipped; arrays are flattened).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

// table renders rows (objects) under columns [{key, label, render?(row)}]. With onSelect, a row
// is selectable by click, Enter or Space, and the arrow keys move between rows.
export function table(columns, rows, opts = {}) {
  const tbody = h('tbody');
  const t = h('table', { class: opts.class, 'aria-label': opts.label },
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col' }, c.label ?? c.key)))), tbody);
  rows.forEach((row, i) => {
    const tr = h('tr', {}, columns.map(c => h('td', {}, c.render ? c.render(row) : fmt(row[c.key]))));
    if (opts.onSelect) {
      tr.tabIndex = 0;
      tr.setAttribute('aria-selected', 'false');
      const pick = () => {
        tbody.querySelectorAll('tr.selected').forEach(x => { x.classList.remove('selected'); x.setAttribute('aria-selected', 'false'); });
        tr.classList.add('selected');
        tr.setAttribute('aria-selected', 'true');
        opts.onSelect(row, i);
      };
      tr.addEventListener('click', pick);
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); }
        if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
        if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
      });
    }
    tbody.append(tr);
  });
  if (rows.length === 0) tbody.append(h('tr', {}, h('td', { colspan: columns.length }, opts.empty || 'There are no items to show in this view.')));
  return t;
}

// fmt shows a value as text: arrays joined, objects as JSON, null as empty.
export function fmt(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(fmt).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// notify shows a short message in the status region (read by screen readers).
export function notify(msg, bad = false) {
  const s = document.getElementById('status');
  s.textContent = msg;
  s.className = 'status shown' + (bad ? ' bad' : '');
  clearTimeout(notify.t);
  notify.t = setTimeout(() => { s.className = 'status'; }, bad ? 8000 : 3000);
}

// The event stream (GET /api/v1/events?types=…), shared by every page: onEvent(type, fn)
// subscribes to one event type (delivery, tracking, exchange, stats) and returns the
// unsubscribe function. The stream carries only the types someone listens to (a dashboard
// during a load test is sent one stats event a second, not every delivery), so it is reopened
// when the set of types changes.
const listeners = new Map();
let source = null;
let sourceTypes = '';
export function onEvent(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  openStream();
  return () => {
    const set = listeners.get(type);
    set.delete(fn);
    if (set.size === 0) { listeners.delete(type); setTimeout(openStream, 0); }
  };
}
function dispatch(e) {
  let data;
  try { data = JSON.parse(e.data); } catch { return; }
  for (const fn of listeners.get(e.type) || []) {
    try { fn(data, e); } catch (err) { console.error(err); }
  }
}
function openStream() {
  const types = [...listeners.keys()].sort().join(',');
  if (source && types === sourceTypes) return;
  if (source) { source.close(); source = null; }
  sourceTypes = types;
  if (!types) return;
  const es = new EventSource('/api/v1/events?types=' + encodeURIComponent(types));
  source = es;
  for (const type of types.split(',')) es.addEventListener(type, dispatch);
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED && source === es) { source = null; setTimeout(openStream, 2000); }
  };
}

// Sign-in: the token goes to POST /api/v1/login, which sets an HttpOnly cookie.
let signingIn = false;
export function signIn() {
  const d = document.getElementById('login');
  if (signingIn) return;
  signingIn = true;
  d.showModal();
  document.getElementById('login-token').focus();
}
async function submitLogin(e) {
  e.preventDefault();
  const err = document.getElementById('login-error');
  err.textContent = '';
  const res = await fetch('/api/v1/login', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Token: document.getElementById('login-token').value }) });
  if (!res.ok) { err.textContent = 'That is not the admin token.'; return; }
  signingIn = false;
  document.getElementById('login').close();
  document.getElementById('login-token').value = '';
  if (source) { source.close(); source = null; }
  openStream();
  showServer();
  route();
}

async function showServer() {
  try {
    const org = await api('/api/v1/organization');
    document.getElementById('server').textContent = `Server ${org.Server}` + (org.File ? ` · ${org.File}` : ' · embedded default organization');
    document.getElementById('logout').hidden = false;
  } catch { /* the sign-in dialog is open; it calls showServer again */ }
}

// Router: #/<page>/<arg>… loads pages/<page>.js, whose default export is
// { title, render(main, args) } and render may return a cleanup function.
const pages = ['dashboard', 'mailflow', 'queues', 'trace', 'mailboxes', 'protocollog', 'events', 'faults', 'health'];
let cleanup = null;
let routeSeq = 0;
export async function route() {
  const [page = 'dashboard', ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const id = pages.includes(page) ? page : 'dashboard';
  const seq = ++routeSeq;
  if (typeof cleanup === 'function') { try { cleanup(); } catch (e) { console.error(e); } }
  cleanup = null;
  document.querySelectorAll('#nav a').forEach(a => { if (a.dataset.page === id) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current'); });
  const main = document.getElementById('main');
  let mod;
  try { mod = await import(`./pages/${id}.js`); } catch (e) { main.replaceChildren(h('p', { class: 'error' }, `The page ${id} did not load: ${e.message}`)); return; }
  if (seq !== routeSeq) return;
  main.replaceChildren();
  document.title = `${mod.default.title} - exlab admin center`;
  try {
    cleanup = await mod.default.render(main, args);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) main.append(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

// go navigates to #/<page>/<args…>.
export function go(page, ...args) { location.hash = '#/' + [page, ...args].map(encodeURIComponent).join('/'); }

async function start() {
  document.getElementById('login-form').addEventListener('submit', submitLogin);
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/v1/logout', { method: 'POST', credentials: 'same-origin' });
    location.reload();
  });
  const toggle = document.getElementById('cmdlets-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    cmdletList().hidden = !open;
  });
  window.addEventListener('hashchange', route);
  await showServer();
  route();
}
start();
