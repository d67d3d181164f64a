import { h, api, table, onEvent } from '../app.js';
import { field } from './admin-lib.js';

// Events: the server's Exchange events as the Application log has them (GET /api/v1/eventlog,
// what Get-WinEvent reads), newest first, filtered by event id and level; new events arrive
// from the event stream (event: exchange) while the page is shown.
export default {
  title: 'Events',
  async render(main) {
    const id = field('eventId', '', 'text', { label: 'Event ID', help: 'e.g. 1020' });
    const level = field('level', '', 'select', { label: 'Level', values: ['', 'Error', 'Warning', 'Information'] });
    const count = h('p', { id: 'ev-count', 'aria-live': 'polite' });
    const list = h('div', { id: 'ev-list' });
    const pane = h('div', { id: 'ev-details', class: 'panel' }, h('p', {}, 'Select an event to read it.'));
    main.append(h('h1', {}, 'Events'), h('form', { class: 'toolbar', id: 'ev-filter', 'aria-label': 'Filter events', onsubmit: (e) => { e.preventDefault(); draw(); } }, id.el, level.el,
      h('button', { type: 'submit' }, 'Filter')), count, h('div', { class: 'split' }, list, pane));
    let all = [];
    const cols = [{ key: 'TimeCreated', label: 'Date and time' }, { key: 'Level' }, { key: 'EventID', label: 'Event ID' }, { key: 'Source' },
      { key: 'Message', render: e => String(e.Message || '').split('\n')[0].slice(0, 140) }];
    function draw() {
      const want = id.input.value.trim(), lv = level.input.value;
      const rows = all.filter(e => (!want || String(e.EventID) === want) && (!lv || e.Level === lv));
      count.textContent = `${rows.length} of ${all.length} event(s)`;
      list.replaceChildren(table(cols, rows, { label: 'Exchange events', empty: 'No events match.', onSelect: (e) => {
        pane.replaceChildren(h('h2', {}, `Event ${e.EventID}, ${e.Source}`), h('p', {}, `${e.Level} · ${e.TimeCreated}`), h('pre', {}, String(e.Message || '')),
          h('dl', { class: 'props' }, Object.keys(e).sort().filter(k => k !== 'Message').map(k => [h('dt', {}, k), h('dd', {}, typeof e[k] === 'object' ? JSON.stringify(e[k]) : String(e[k]))])));
      } }));
    }
    const byTime = (a, b) => String(b.TimeCreated || '').localeCompare(String(a.TimeCreated || ''));
    const off = onEvent('exchange', (e) => { all.unshift(e); all.sort(byTime); draw(); });
    const r = await api('/api/v1/eventlog');
    const seen = new Set(all.map(e => JSON.stringify(e)));
    all = all.concat((r.Events || []).filter(e => !seen.has(JSON.stringify(e)))).sort(byTime);
    draw();
    return off;
  },
};
