import { api, h, table, fmt, notify, onEvent, go } from '../app.js';

// Mailboxes (issue 17 point 2): the mailboxes that hold messages, a message list with search
// and cursor paging (GET /api/v1/messages) that new deliveries join without a reload (the
// `delivery` event), and a reader at #/mailboxes/<mailbox>/<id>: the headers, the text body,
// the HTML body in a sandboxed iframe (no scripts, an opaque origin; the server's CSP on parts
// blocks remote content), the attachments, the raw source, and links to the message's trace
// and protocol log.

const partURL = (m, path) => `/api/v1/messages/${m.ID}/parts/${path}?mailbox=${encodeURIComponent(m.Mailbox)}`;
const rawURL = (m) => `/api/v1/messages/${m.ID}/raw?mailbox=${encodeURIComponent(m.Mailbox)}`;
const when = (s) => s ? new Date(s).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '';
const size = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;

export default {
  title: 'Mailboxes',
  async render(main, args) {
    const [mailbox = '', id = ''] = args;
    if (mailbox && id) return reader(main, mailbox, id);
    return list(main, mailbox);
  },
};

const filters = [
  ['sender', 'Sender', 'text'], ['recipient', 'Recipient', 'text'], ['subject', 'Subject', 'text'],
  ['text', 'Text', 'search'], ['messageId', 'Message ID', 'text'], ['since', 'Received after', 'datetime-local'], ['before', 'Received before', 'datetime-local'],
];

async function list(main, mailbox) {
  main.append(h('h1', {}, 'Mailboxes'));
  const boxes = h('div', { id: 'mailbox-list' });
  const results = h('div', { id: 'message-list' });
  const more = h('button', { type: 'button', id: 'message-more', hidden: true }, 'Load more');
  const count = h('p', { id: 'message-count', 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar', id: 'message-search', role: 'search', 'aria-label': 'Search messages' },
    filters.map(([k, label, type]) => h('div', {}, h('label', { for: 'q-' + k }, label), h('input', { id: 'q-' + k, name: k, type }))),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('button', { type: 'reset' }, 'Clear'));
  main.append(h('div', { class: 'split mail' },
    h('section', { class: 'panel', 'aria-labelledby': 'mb-h' }, h('h2', { id: 'mb-h' }, 'Mailboxes'), boxes),
    h('section', { class: 'panel', 'aria-labelledby': 'ml-h' },
      h('h2', { id: 'ml-h' }, mailbox ? `Messages in ${mailbox}` : 'Messages in every mailbox'),
      mailbox ? h('p', {}, h('a', { href: '#/mailboxes' }, 'Show every mailbox')) : null,
      form, count, results, more)));

  let rows = [], cursor = '', query = {};
  const showBoxes = async () => {
    const list = await api('/api/v1/mailboxes');
    boxes.replaceChildren(table([
      { key: 'Mailbox', label: 'Mailbox', render: r => h('a', { href: '#/mailboxes/' + encodeURIComponent(r.Mailbox), tabindex: -1 }, r.Mailbox) },
      { key: 'Count', label: 'Messages' }], list, { label: 'Mailboxes', onSelect: r => go('mailboxes', r.Mailbox), empty: 'No mailbox holds a message yet.' }));
  };
  const showRows = () => {
    results.replaceChildren(table([
      { key: 'Received', label: 'Received', render: r => when(r.Received) },
      { key: 'From', label: 'From' },
      { key: 'To', label: 'To', render: r => fmt(r.To) },
      { key: 'Subject', label: 'Subject', render: r => h('a', { href: `#/mailboxes/${encodeURIComponent(r.Mailbox)}/${r.ID}`, tabindex: -1 }, r.Subject || '(no subject)') },
      { key: 'Size', label: 'Size', render: r => size(r.Size) }],
    rows, { label: 'Messages', class: 'messages', onSelect: r => go('mailboxes', r.Mailbox, String(r.ID)), empty: 'No message matches.' }));
    count.textContent = `${rows.length} message(s) shown` + (cursor ? '; more are older' : '');
    more.hidden = !cursor;
  };
  const load = async (append) => {
    const p = new URLSearchParams();
    if (mailbox) p.set('mailbox', mailbox);
    for (const [k, v] of Object.entries(query)) if (v) p.set(k, v);
    if (append && cursor) p.set('cursor', cursor);
    const page = await api('/api/v1/messages?' + p);
    rows = append ? rows.concat(page.Messages) : page.Messages;
    cursor = page.NextCursor || '';
    showRows();
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    query = {};
    for (const [k, , type] of filters) {
      const v = form.elements[k].value.trim();
      if (v) query[k] = type === 'datetime-local' ? new Date(v).toISOString() : v;
    }
    try { await load(false); } catch (err) { notify(err.message, true); }
  });
  form.addEventListener('reset', () => { setTimeout(() => form.requestSubmit(), 0); });
  more.addEventListener('click', async () => { try { await load(true); } catch (err) { notify(err.message, true); } });

  // A delivery joins the list when it matches what the list shows; filters the page cannot
  // check itself (text, since/before) ask for a new search instead.
  const lc = (s) => String(s || '').toLowerCase();
  const matches = (m) => {
    if (mailbox && lc(m.Mailbox) !== lc(mailbox)) return false;
    if (query.sender && !lc(m.From).includes(lc(query.sender))) return false;
    if (query.recipient && !(m.To || []).some(r => lc(r).includes(lc(query.recipient)))) return false;
    if (query.subject && !lc(m.Subject).includes(lc(query.subject))) return false;
    if (query.messageId && lc(m.MessageID).replace(/[<>]/g, '') !== lc(query.messageId).replace(/[<>]/g, '')) return false;
    return !(query.text || query.since || query.before);
  };
  // Deliveries are taken in batches (a load test delivers thousands a second): the list is
  // drawn again at most four times a second, the mailbox counts once a second.
  let boxTimer = null, rowTimer = null, pending = [];
  const flush = () => {
    rowTimer = null;
    const seen = new Set(rows.map(r => r.Mailbox + '/' + r.ID));
    const fresh = pending.filter(m => !seen.has(m.Mailbox + '/' + m.ID)).reverse();
    pending = [];
    if (!fresh.length) return;
    rows = fresh.concat(rows);
    showRows();
    notify(fresh.length === 1 ? `New message in ${fresh[0].Mailbox}: ${fresh[0].Subject || '(no subject)'}` : `${fresh.length} new messages`);
  };
  const stop = onEvent('delivery', (m) => {
    if (matches(m)) {
      pending.push(m);
      if (!rowTimer) rowTimer = setTimeout(flush, 250);
    }
    if (!boxTimer) boxTimer = setTimeout(() => { boxTimer = null; showBoxes().catch(() => {}); }, 1000);
  });
  await Promise.all([showBoxes(), load(false)]);
  return () => { stop(); clearTimeout(boxTimer); clearTimeout(rowTimer); };
}

// bodies finds the message's text and HTML bodies: the first text/plain and text/html parts
// that are not attachments (in a multipart/alternative, the parts as they come).
function bodies(root) {
  const out = {};
  const walk = (p) => {
    if (!p) return;
    if (p.Parts && p.Parts.length) { p.Parts.forEach(walk); return; }
    if (p.Disposition && p.Disposition.toLowerCase() === 'attachment') return;
    const ct = (p.ContentType || '').toLowerCase();
    if (ct === 'text/plain' && !out.text) out.text = p;
    if (ct === 'text/html' && !out.html) out.html = p;
  };
  walk(root);
  return out;
}

async function reader(main, mailbox, id) {
  const m = await api(`/api/v1/messages/${encodeURIComponent(id)}?mailbox=${encodeURIComponent(mailbox)}`);
  const header = (name) => (m.Headers.find(x => x.Name.toLowerCase() === name) || {}).Value || '';
  const b = bodies(m.Root);
  main.append(
    h('p', {}, h('a', { href: '#/mailboxes/' + encodeURIComponent(m.Mailbox) }, `Back to ${m.Mailbox}`)),
    h('h1', { id: 'msg-subject' }, m.Subject || '(no subject)'),
    h('dl', { class: 'msg-meta', id: 'msg-meta' },
      h('dt', {}, 'From'), h('dd', { id: 'msg-from' }, header('from') || m.From),
      h('dt', {}, 'To'), h('dd', { id: 'msg-to' }, header('to') || fmt(m.To)),
      header('cc') ? [h('dt', {}, 'Cc'), h('dd', {}, header('cc'))] : null,
      h('dt', {}, 'Date'), h('dd', { id: 'msg-date' }, header('date') || when(m.Received)),
      h('dt', {}, 'Envelope'), h('dd', {}, `MAIL FROM:<${m.From}> RCPT TO:${m.To.map(r => `<${r}>`).join(' ')}; received ${when(m.Received)}, ${size(m.Size)}`),
      h('dt', {}, 'Message ID'), h('dd', { class: 'mono' }, m.MessageID)),
    h('p', { class: 'toolbar' },
      m.MessageID ? h('a', { href: '#/trace/' + encodeURIComponent(m.MessageID), id: 'msg-trace' }, 'Message trace') : null,
      h('a', { href: `#/protocollog/${m.ID}/${encodeURIComponent(m.Mailbox)}`, id: 'msg-protocollog' }, 'Protocol log'),
      h('a', { href: rawURL(m), download: `${m.ID}.eml`, id: 'msg-download' }, 'Download .eml')));
  if (m.ParseError) main.append(h('p', { class: 'error', role: 'alert' }, 'The message did not parse: ' + m.ParseError));

  const headers = h('details', { id: 'msg-headers' }, h('summary', {}, `All headers (${m.Headers.length})`),
    h('table', { 'aria-label': 'Headers' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'))),
      h('tbody', {}, m.Headers.map(x => h('tr', {}, h('th', { scope: 'row', class: 'mono' }, x.Name), h('td', { class: 'mono' }, x.Value))))));
  main.append(headers);

  if (b.html) {
    // sandbox="" : no scripts, no forms, no popups, an opaque origin; the part's own CSP
    // (default-src 'none'; img-src data: cid:) keeps remote images and styles out.
    const frame = h('iframe', { class: 'body', id: 'msg-html', sandbox: '', referrerpolicy: 'no-referrer', title: 'HTML body of the message (sandboxed, remote content blocked)', src: partURL(m, b.html.Path) });
    frame.addEventListener('load', () => { frame.dataset.loaded = 'true'; }, { once: true });
    main.append(h('section', { 'aria-labelledby': 'html-h' }, h('h2', { id: 'html-h' }, 'HTML body'), frame));
  }
  if (b.text) {
    main.append(h('section', { 'aria-labelledby': 'text-h' }, h('h2', { id: 'text-h' }, 'Text body'), h('pre', { id: 'msg-text' }, b.text.Text ?? '')));
  }
  if (!b.html && !b.text) main.append(h('p', {}, 'The message has no text or HTML body.'));

  main.append(h('section', { 'aria-labelledby': 'att-h' }, h('h2', { id: 'att-h' }, `Attachments (${m.Attachments.length})`),
    m.Attachments.length
      ? h('ul', { id: 'msg-attachments' }, m.Attachments.map(a => h('li', {},
        h('a', { href: partURL(m, a.Path), download: a.Filename || `part-${a.Path}` }, a.Filename || `part ${a.Path}`), ` ${a.ContentType}, ${size(a.Size)}`)))
      : h('p', {}, 'None.')));

  const raw = h('pre', { id: 'msg-raw' }, 'Loading…');
  const rawBox = h('details', { id: 'msg-raw-box' }, h('summary', {}, 'Raw source'), raw);
  main.append(rawBox);
  api(rawURL(m), { text: true }).then(t => { raw.textContent = t; }, e => { raw.textContent = e.message; raw.className = 'error'; });
}
