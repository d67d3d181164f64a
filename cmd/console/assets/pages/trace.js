import { h, api, table, notify, fmt } from '../app.js';
import { field, errorText } from './admin-lib.js';

// Message trace: a search of the message tracking logs (GET /api/v1/tracking, the search
// Get-MessageTrackingLog runs) by sender, recipient, time, event id and message id; one
// message's timeline is every event of its message-id on every hop, oldest first, with links
// to the copy in the mailbox and to the protocol-log sessions that carried it.
const events = ['', 'RECEIVE', 'SUBMIT', 'HAREDIRECT', 'AGENTINFO', 'DELIVER', 'SEND', 'FAIL', 'DEFER', 'DSN', 'RESOLVE', 'EXPAND', 'REDIRECT', 'DROP', 'POISONMESSAGE', 'BADMAIL'];

// localInput is a datetime-local value as RFC 3339 (UTC).
function rfc3339(v) { return v ? new Date(v).toISOString() : ''; }

export default {
  title: 'Message trace',
  async render(main, args) {
    const fields = {
      sender: field('sender', '', 'text', { label: 'Sender' }),
      recipient: field('recipient', '', 'text', { label: 'Recipient' }),
      start: field('start', '', 'text', { label: 'Start time' }),
      end: field('end', '', 'text', { label: 'End time' }),
      eventId: field('eventId', '', 'select', { label: 'Event ID', values: events }),
      messageId: field('messageId', args[0] || '', 'text', { label: 'Message ID', help: '<…@…>' }),
    };
    fields.start.input.type = 'datetime-local';
    fields.end.input.type = 'datetime-local';
    const err = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { id: 'trace-form', class: 'toolbar', 'aria-label': 'Search the message tracking log' },
      Object.values(fields).map(f => f.el), h('button', { type: 'submit', class: 'primary' }, 'Search'));
    const results = h('div', { id: 'trace-results' });
    const timeline = h('div', { id: 'trace-timeline', class: 'panel' }, h('p', {}, 'Select an event to view its message\'s timeline.'));
    main.append(h('h1', {}, 'Message trace'), form, err, h('div', { class: 'split' }, results, timeline));

    const query = (q) => api('/api/v1/tracking?' + new URLSearchParams(Object.entries(q).filter(([, v]) => v)).toString());
    const cols = [{ key: 'date-time', label: 'Date' }, { key: 'event-id', label: 'Event ID' }, { key: 'source', label: 'Source' },
      { key: 'sender-address', label: 'Sender' }, { key: 'recipient-address', label: 'Recipients' }, { key: 'message-subject', label: 'Subject' }];

    async function search(e) {
      if (e) e.preventDefault();
      err.textContent = '';
      const q = {};
      for (const [k, f] of Object.entries(fields)) q[k] = f.input.value.trim();
      q.start = rfc3339(q.start);
      q.end = rfc3339(q.end);
      try {
        const r = await query(q);
        const evs = (r.Events || []).slice().sort((a, b) => (b['date-time'] || '').localeCompare(a['date-time'] || ''));
        // A load test's log holds many thousands: the newest 500 are shown.
        const shown = evs.slice(0, 500);
        results.replaceChildren(h('p', { id: 'trace-count' }, `${evs.length} event(s)` + (shown.length < evs.length ? `, the newest ${shown.length} shown` : '')),
          table(cols, shown, { label: 'Tracking events', empty: 'No events match.', onSelect: (ev) => show(ev) }));
      } catch (ex) { err.textContent = errorText(ex); }
    }
    form.addEventListener('submit', search);

    async function show(ev) {
      const mid = ev['message-id'];
      if (!mid) { timeline.replaceChildren(details(ev)); return; }
      try {
        const [r, stored] = await Promise.all([query({ messageId: mid }), api('/api/v1/messages?' + new URLSearchParams({ messageId: mid }))]);
        const evs = (r.Events || []).slice().sort((a, b) => (a['date-time'] || '').localeCompare(b['date-time'] || ''));
        const links = (stored.Messages || []).map(m => h('li', {},
          h('a', { href: `#/mailboxes/${encodeURIComponent(m.Mailbox)}/${encodeURIComponent(m.ID)}` }, `Open in ${m.Mailbox}`), ' · ',
          h('a', { href: `#/protocollog/${encodeURIComponent(m.ID)}` }, 'Protocol log')));
        timeline.replaceChildren(h('h2', {}, 'Timeline of ' + mid), ev['message-subject'] ? h('p', {}, ev['message-subject']) : null,
          h('ol', { class: 'timeline', id: 'trace-steps' }, evs.map(x => h('li', {},
            h('strong', {}, x['event-id']), ' ', h('span', { class: 'mono' }, x['date-time']), ' · ', x.source, ' · ', x['server-hostname'] || '',
            x['connector-id'] ? ' · ' + x['connector-id'] : '', h('br'), fmt(x['recipient-address']),
            x['recipient-status'] ? h('div', { class: 'mono' }, x['recipient-status']) : null))),
          links.length ? h('ul', { id: 'trace-links' }, links) : h('p', {}, 'The message is in no mailbox of this server.'));
      } catch (ex) { notify(errorText(ex), true); }
    }
    function details(ev) {
      return h('dl', { class: 'props' }, Object.keys(ev).map(k => [h('dt', {}, k), h('dd', {}, fmt(ev[k]))]));
    }
    await search();
  },
};
