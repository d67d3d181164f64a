import { h, onEvent } from '../app.js';

// The live load dashboard (issue 17 point 3): the server's `stats` event, once a second on the
// shared event stream, feeds cards (the latest figures, as text), a table of open sessions per
// connector, and three uPlot charts over the last five minutes: messages/s accepted, delivered
// and refused; per-phase latency p50/p99 (log scale, ms); the reply-code mix per class. The
// charts are created once and fed with setData from fixed-size windows, so the cost is per
// second, whatever the message rate.

const WINDOW = 300; // seconds of history in the charts

// Window is a fixed-capacity ring of per-second samples; columns() gives uPlot's arrays
// (oldest first) for the series named by keys.
class Window {
  constructor(cap) { this.cap = cap; this.rows = new Array(cap); this.start = 0; this.len = 0; }
  push(row) {
    if (this.len < this.cap) this.rows[(this.start + this.len++) % this.cap] = row;
    else { this.rows[this.start] = row; this.start = (this.start + 1) % this.cap; }
  }
  columns(keys) {
    const cols = [new Array(this.len)].concat(keys.map(() => new Array(this.len)));
    for (let i = 0; i < this.len; i++) {
      const r = this.rows[(this.start + i) % this.cap];
      cols[0][i] = r.t;
      for (let k = 0; k < keys.length; k++) cols[k + 1][i] = r[keys[k]] ?? null;
    }
    return cols;
  }
}

// Short role names keep the latency chart's legend readable (a series per role, phase and quantile).
const roleShort = { FrontendTransport: 'FE', HubTransport: 'Hub', MailboxTransportDelivery: 'MbxDelivery', MailboxTransportSubmission: 'MbxSubmission' };
const palette = ['#0078d4', '#107c10', '#a4262c', '#8764b8', '#ca5010', '#038387', '#986f0b', '#e3008c', '#4f6bed', '#69797e'];
const num = (n) => (n ?? 0).toLocaleString('en-US', { maximumFractionDigits: 1 });
const ms = (s) => (s * 1000).toLocaleString('en-US', { maximumFractionDigits: s < 0.01 ? 2 : 1 });

function card(label, id) {
  return h('div', { class: 'card' }, h('div', { class: 'k', id: id + '-k' }, label), h('div', { class: 'v', id, 'aria-describedby': id + '-k' }, '–'));
}

// chart makes one uPlot chart in a <figure> with a caption (its accessible name) and keeps the
// instance on the element (el.uplot) for the tests.
function chart(id, caption, series, scaleY, unit) {
  const fig = h('figure', { class: 'chart', id, role: 'group', 'aria-label': caption });
  const cap = h('figcaption', {}, caption);
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': caption + ' over the last five minutes; the latest figures are in the text above' });
  fig.append(cap, plot);
  const opts = {
    width: 460, height: 220,
    scales: { x: { time: true }, y: scaleY },
    axes: [{}, { label: unit, size: 56 }],
    series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5, spanGaps: false }))),
    legend: { live: false },
  };
  const u = new window.uPlot(opts, [[], ...series.map(() => [])], plot);
  fig.uplot = u;
  return { fig, u, keys: series.map(s => s.key) };
}

export default {
  title: 'Dashboard',
  render(main) {
    main.append(h('h1', {}, 'Dashboard'),
      h('p', { id: 'dash-status', 'aria-live': 'off' }, 'Waiting for the server\'s statistics (one sample a second)…'));
    const cards = h('div', { class: 'cards', role: 'region', 'aria-label': 'Latest figures' },
      card('Accepted msgs/s', 'dash-accepted'), card('Delivered recipients/s', 'dash-delivered'), card('Refused (4xx/5xx replies)/s', 'dash-refused'),
      card('Accepted in total', 'dash-total-accepted'), card('Delivered in total', 'dash-total-delivered'), card('Refused in total', 'dash-total-refused'),
      card('Open sessions', 'dash-open'), card('Queued messages', 'dash-queue'), card('Back pressure', 'dash-pressure'));
    const connectors = h('div', { id: 'dash-connectors' });
    const latency = h('div', { id: 'dash-latency' });
    const rate = chart('chart-rate', 'Messages per second', [
      { key: 'a', label: 'accepted/s', color: '#0078d4' }, { key: 'd', label: 'delivered/s', color: '#107c10' }, { key: 'r', label: 'refused/s', color: '#a4262c' }],
    { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] }, 'msgs/s');
    const replies = chart('chart-replies', 'Reply-code mix (replies per second)', [
      { key: 'c2', label: '2xx', color: '#107c10' }, { key: 'c4', label: '4xx', color: '#ca5010' }, { key: 'c5', label: '5xx', color: '#a4262c' }],
    { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] }, 'replies/s');
    const lat = chart('chart-latency', 'Latency per phase, p50 and p99 (ms, log scale)', [], { distr: 3 }, 'ms');
    main.append(cards, h('div', { class: 'charts' }, rate.fig, lat.fig, replies.fig),
      h('h2', {}, 'Open sessions per connector'), connectors, h('h2', {}, 'Latency per phase (latest second)'), latency);

    const win = new Window(WINDOW);
    const latKeys = []; // "Role phase p50" … in the order of lat's series
    let samples = 0;

    // A phase seen for the first time gets its two series (p50, p99); earlier seconds are null.
    function ensurePhase(name) {
      for (const q of ['p50', 'p99']) {
        const key = name + ' ' + q;
        if (latKeys.includes(key)) continue;
        const i = latKeys.length;
        latKeys.push(key);
        lat.u.addSeries({ label: key, stroke: palette[Math.floor(i / 2) % palette.length], dash: q === 'p50' ? [4, 3] : undefined, width: 1.5 }, i + 1);
      }
    }

    const stop = onEvent('stats', (s) => {
      const t = Date.parse(s.Time) / 1000;
      const row = { t, a: s.Accepted, d: s.Delivered, r: s.Refused, c2: 0, c4: 0, c5: 0 };
      for (const [code, n] of Object.entries(s.Replies || {})) {
        const c = 'c' + String(code)[0];
        if (c in row) row[c] += n;
      }
      for (const p of s.Phases || []) {
        const name = (roleShort[p.Role] || p.Role) + ' ' + p.Phase;
        ensurePhase(name);
        // A log scale has no zero: a phase with no sample that second is a gap.
        row[name + ' p50'] = p.Count > 0 && p.P50 > 0 ? p.P50 * 1000 : null;
        row[name + ' p99'] = p.Count > 0 && p.P99 > 0 ? p.P99 * 1000 : null;
      }
      win.push(row);
      samples++;
      rate.u.setData(win.columns(rate.keys));
      replies.u.setData(win.columns(replies.keys));
      if (latKeys.length) lat.u.setData(win.columns(latKeys));

      const set = (id, v) => { document.getElementById(id).textContent = v; };
      set('dash-accepted', num(s.Accepted)); set('dash-delivered', num(s.Delivered)); set('dash-refused', num(s.Refused));
      set('dash-total-accepted', num(s.Totals?.Accepted)); set('dash-total-delivered', num(s.Totals?.Delivered)); set('dash-total-refused', num(s.Totals?.Refused));
      const conns = s.Connectors || [];
      set('dash-open', num(conns.reduce((n, c) => n + (c.Open || 0), 0)));
      set('dash-queue', num(s.Queue?.Messages));
      const pr = document.getElementById('dash-pressure');
      pr.textContent = s.Queue?.Pressure || 'Off';
      pr.className = 'v pressure-' + (s.Queue?.Pressure || 'Off').toLowerCase();
      set('dash-status', `Last sample ${new Date(t * 1000).toISOString().slice(11, 19)} UTC over ${num(s.Interval)} s; ${samples} sample(s) since this page opened.`);
      connectors.replaceChildren(miniTable('Open sessions per connector', ['Connector', 'Role', 'Open sessions', 'Accepted/s', 'Refused/s'],
        conns.map(c => [c.Identity, c.Role, num(c.Open), num(c.Accepted), num(c.Refused)])));
      latency.replaceChildren(miniTable('Latency per phase', ['Role', 'Phase', 'Count', 'p50 (ms)', 'p99 (ms)'],
        (s.Phases || []).map(p => [p.Role, p.Phase, num(p.Count), p.Count ? ms(p.P50) : '', p.Count ? ms(p.P99) : ''])));
    });

    // The charts follow the page's width.
    const resize = () => {
      for (const c of [rate, lat, replies]) {
        const w = Math.max(300, c.fig.clientWidth - 16);
        if (Math.abs(w - c.u.width) > 4) c.u.setSize({ width: w, height: 220 });
      }
    };
    window.addEventListener('resize', resize);
    requestAnimationFrame(resize);
    return () => { stop(); window.removeEventListener('resize', resize); rate.u.destroy(); lat.u.destroy(); replies.u.destroy(); };
  },
};

// miniTable is a plain table of text cells with a header row.
function miniTable(label, heads, rows) {
  return h('table', { 'aria-label': label },
    h('thead', {}, h('tr', {}, heads.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length ? rows.map(r => h('tr', {}, r.map(c => h('td', {}, c)))) : h('tr', {}, h('td', { colspan: heads.length }, 'None.'))));
}
