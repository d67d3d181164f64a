import { api, h, notify, go } from '../app.js';

// Protocol logs (issue 17 point 2): the SMTP protocol-log sessions that carried one message on
// every hop (GET /api/v1/messages/{id}/protocollog: frontend, hub, Mailbox Transport Delivery,
// send logs; oldest first), grouped by hop, each session as a table of its lines, the lines that
// name the message (its Message-ID) highlighted. #/protocollog/<id>[/<mailbox>].

const hopName = (s) => `${s.Service} ${s.Log === 'SmtpSend' ? 'Send' : 'Receive'}`;

export default {
  title: 'Protocol logs',
  async render(main, args) {
    const [id = '', mailbox = ''] = args;
    main.append(h('h1', {}, 'Protocol logs'));
    const form = h('form', { class: 'toolbar', id: 'plog-form', 'aria-label': 'Open a message\'s protocol log' },
      h('div', {}, h('label', { for: 'plog-id' }, 'Message (InternalMessageId)'),
        h('input', { id: 'plog-id', name: 'id', inputmode: 'numeric', pattern: '[0-9]+', required: true, value: id })),
      h('div', {}, h('label', { for: 'plog-mailbox' }, 'Mailbox (optional)'),
        h('input', { id: 'plog-mailbox', name: 'mailbox', type: 'email', value: mailbox })),
      h('button', { type: 'submit', class: 'primary' }, 'Open'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = form.elements.id.value.trim(), mb = form.elements.mailbox.value.trim();
      if (!/^[0-9]+$/.test(v)) { notify('The message id is a number (InternalMessageId, as the Mailboxes page shows it).', true); return; }
      if (mb) go('protocollog', v, mb); else go('protocollog', v);
    });
    main.append(form);
    if (!id) {
      main.append(h('p', {}, 'Open a message from the Mailboxes page, or enter its id.'));
      return;
    }
    const q = mailbox ? '?mailbox=' + encodeURIComponent(mailbox) : '';
    const [m, log] = await Promise.all([api(`/api/v1/messages/${encodeURIComponent(id)}${q}`), api(`/api/v1/messages/${encodeURIComponent(id)}/protocollog${q}`)]);
    const msgId = (m.MessageID || '').replace(/^<|>$/g, '').toLowerCase();
    main.append(h('p', { id: 'plog-summary' },
      h('a', { href: `#/mailboxes/${encodeURIComponent(m.Mailbox)}/${m.ID}` }, m.Subject || '(no subject)'),
      ` · ${m.MessageID} · ${log.Sessions.length} session(s). Lines that name the message are highlighted.`));
    if (!log.Sessions.length) {
      main.append(h('p', {}, 'No protocol-log session carried this message (is protocol logging on for its connectors?).'));
      return;
    }
    // Hops in the order the message went through them.
    const hops = new Map();
    for (const s of log.Sessions) {
      const k = hopName(s);
      if (!hops.has(k)) hops.set(k, []);
      hops.get(k).push(s);
    }
    let n = 0;
    for (const [name, sessions] of hops) {
      const hid = 'hop-' + (++n);
      const sec = h('section', { class: 'hop', 'aria-labelledby': hid }, h('h2', { id: hid }, `Hop ${n}: ${name}`));
      for (const s of sessions) sec.append(sessionTable(s, msgId));
      main.append(sec);
    }
  },
};

function sessionTable(s, msgId) {
  const caption = `${s.Connector}, session ${s.Session} (${s.Lines.length} lines)`;
  const heads = ['Time', 'Connector', 'Session', 'Sequence', 'Local', 'Remote', 'Event', 'Data', 'Context'];
  return h('table', { class: 'plog', 'data-session': s.Session },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, heads.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, s.Lines.map(l => {
      const mine = msgId && ((l.data || '').toLowerCase().includes(msgId) || (l.context || '').toLowerCase().includes(msgId));
      return h('tr', { class: mine ? 'mine' : null, 'aria-current': mine ? 'true' : null },
        h('td', { class: 'mono' }, l['date-time']), h('td', {}, s.Connector), h('td', { class: 'mono' }, s.Session),
        h('td', {}, String(l['sequence-number'])), h('td', { class: 'mono' }, l['local-endpoint']), h('td', { class: 'mono' }, l['remote-endpoint']),
        h('td', { class: 'mono' }, l.event), h('td', { class: 'mono' }, l.data), h('td', {}, l.context));
    })));
}
