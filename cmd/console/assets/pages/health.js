import { h, cmdletObjects, api, shell, table, notify, fmt, psQuote } from '../app.js';
import { errorText } from './admin-lib.js';

// Server health: every binding of every connector, listening or not, with the process that
// holds a taken port (GET /api/v1/health); the readiness probe's text (/readyz); and the
// HubTransport component state (Get-/Set-ServerComponentState, maintenance mode).
export default {
  title: 'Server health',
  async render(main) {
    const ready = h('pre', { id: 'health-ready', 'aria-live': 'polite' });
    const list = h('div', { id: 'health-bindings' });
    const comp = h('div', { id: 'health-components' });
    const refresh = h('button', { type: 'button', id: 'health-refresh' }, 'Refresh');
    main.append(h('h1', {}, 'Server health'), h('div', { class: 'toolbar' }, refresh), h('h2', {}, 'Readiness'), ready,
      h('h2', {}, 'Bindings'), list, h('h2', {}, 'Server components'), comp);
    const owner = (o) => o ? `${o.Program || '?'} (PID ${o.PID})${o.Cmdline ? ' — ' + o.Cmdline : ''}` : '';
    const cols = [{ key: 'Service' }, { key: 'Connectors', render: b => fmt(b.Connectors) }, { key: 'Binding', render: b => String(b.Binding).split(' ')[0] }, { key: 'Address', label: 'Listening on' },
      { key: 'Listening', label: 'State', render: b => h('span', { class: b.Listening ? 'ok' : 'error' }, b.Listening ? 'Listening' : 'Not listening') },
      { key: 'Owner', label: 'Port owner', render: b => owner(b.Owner) }, { key: 'Error' }];
    let server = 'EX01';

    async function load(quiet) {
      let text;
      try { text = (await api('/readyz', { text: true })).trim(); } catch (e) { text = String(e.message).trim(); }
      if (ready.textContent !== text) ready.textContent = text; // aria-live: announced when it changes
      const hl = await api('/api/v1/health');
      server = hl.Server || server;
      list.replaceChildren(table(cols, hl.Bindings || [], { label: 'Bindings', empty: 'The server has no bindings.' }));
      const states = await cmdletObjects(`Get-ServerComponentState -Identity ${psQuote(server)}`, { quiet });
      comp.replaceChildren(table([{ key: 'Server' }, { key: 'Component' }, { key: 'State' },
        { key: 'act', label: 'Action', render: s => h('button', { type: 'button', id: 'health-toggle-' + s.Component,
          onclick: () => toggle(s) }, s.State === 'Active' ? 'Start maintenance (Inactive)' : 'End maintenance (Active)') }], states, { label: 'Server components' }));
    }
    async function toggle(s) {
      const to = s.State === 'Active' ? 'Inactive' : 'Active';
      try {
        await shell(`Set-ServerComponentState -Identity ${psQuote(s.Server)} -Component ${s.Component} -State ${to} -Requester Maintenance`);
        notify(`${s.Component} is ${to}.`);
      } catch (e) { notify(errorText(e), true); }
      await load(true);
    }
    refresh.addEventListener('click', () => load(false));
    await load(false);
    const timer = setInterval(() => { if (!document.hidden) load(true).catch(() => {}); }, 5000);
    return () => clearInterval(timer);
  },
};
