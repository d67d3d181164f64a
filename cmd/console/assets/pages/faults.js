import { h, api, table, notify } from '../app.js';
import { field, confirm, errorText } from './admin-lib.js';

// Fault rules (exlab's own; the shell has no fault cmdlets, so this page uses the admin API as
// exlab fault list/set/clear do): GET /faults with each rule's Fired count, POST /faults with a
// rule written as the configuration's Faults entry (config.ParseFaults checks it), DELETE
// /faults to clear one rule (?name=) or all.
const steps = ['Connect', 'Ehlo', 'StartTls', 'Auth', 'Mail', 'Rcpt', 'Data', 'EndOfData', 'Proxy'];
const actions = { Reply: 'Reply', ReplyId: 'Reply', Delay: 'Delay', Disconnect: 'Disconnect', Bandwidth: 'Bandwidth' };

export default {
  title: 'Fault rules',
  async render(main) {
    const list = h('div', { id: 'fault-list' });
    const f = {
      Name: field('Name', '', 'text', { help: 'a rule of the same name is replaced' }),
      Connector: field('Connector', '', 'text', { help: 'name or identity; empty: every connector' }),
      Step: field('Step', 'Connect', 'select', { values: steps }),
      Action: field('Action', 'Reply', 'select', { values: Object.keys(actions), help: 'ReplyId: a row of the reply table, e.g. R64' }),
      Value: field('Value', '', 'text', { label: 'Reply, row id, delay or bytes/s', help: 'e.g. 451 4.7.0 Try later · R64 · 00:00:02 · 64 KB' }),
      Probability: field('Probability', '', 'text', { help: '0–1 or 25%; default 1' }),
      Count: field('Count', '', 'number', { help: '0: no limit' }),
      Sender: field('Sender', '', 'text', { help: 'glob, e.g. *@example.org' }),
      Recipient: field('Recipient', '', 'text', { help: 'glob' }),
      RemoteIPRanges: field('RemoteIPRanges', '', 'list', { help: 'client ranges, comma-separated' }),
    };
    const err = h('p', { class: 'error', role: 'alert', id: 'fault-error' });
    const form = h('form', { id: 'fault-form', class: 'panel', 'aria-label': 'Add a fault rule' }, h('h2', {}, 'Add a rule'), h('div', { class: 'fields2' }, Object.values(f).map(x => x.el)),
      h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Add rule')), err);
    const clear = h('button', { type: 'button', id: 'fault-clear' }, 'Clear all');
    const refresh = h('button', { type: 'button', id: 'fault-refresh' }, 'Refresh');
    main.append(h('h1', {}, 'Fault rules'), h('div', { class: 'toolbar' }, refresh, clear), h('div', { class: 'split' }, list, form));

    async function load() {
      const rules = await api('/faults');
      list.replaceChildren(table([{ key: 'Name' }, { key: 'Connector' }, { key: 'Step' }, { key: 'Action' }, { key: 'Detail' }, { key: 'Probability' },
        { key: 'Count' }, { key: 'Remaining' }, { key: 'Fired' }, { key: 'Match' },
        { key: 'remove', label: 'Remove', render: r => h('button', { type: 'button', 'aria-label': 'Remove ' + r.Name, onclick: () => remove(r.Name) }, 'Remove') }],
      rules, { label: 'Fault rules', empty: 'There are no fault rules.' }));
    }
    async function remove(name) {
      await api('/faults?' + new URLSearchParams({ name }), { method: 'DELETE' });
      notify(`The rule ${name} was removed.`);
      await load();
    }
    // rule is the form as one Faults entry (JSON, which the YAML parser reads).
    function rule() {
      const a = f.Action.input.value, v = f.Value.input.value.trim();
      const r = { Step: f.Step.input.value, Action: actions[a] };
      if (a === 'Reply') r.Reply = v;
      if (a === 'ReplyId') r.ReplyId = v;
      if (a === 'Delay') r.Delay = v;
      if (a === 'Bandwidth') r.BytesPerSecond = v;
      for (const k of ['Name', 'Connector', 'Probability', 'Sender', 'Recipient']) if (f[k].input.value.trim()) r[k] = f[k].input.value.trim();
      if (f.Count.input.value.trim()) r.Count = f.Count.input.value.trim();
      const ranges = f.RemoteIPRanges.input.value.split(',').map(s => s.trim()).filter(Boolean);
      if (ranges.length) r.RemoteIPRanges = ranges;
      return r;
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        const r = await api('/faults', { method: 'POST', body: JSON.stringify([rule()]), contentType: 'application/yaml' });
        notify(`${r.Set} rule(s) set.`);
        await load();
      } catch (ex) { err.textContent = errorText(ex); notify('The rule was refused.', true); }
    });
    clear.addEventListener('click', async () => {
      if (!await confirm('Clear every fault rule?')) return;
      const r = await api('/faults', { method: 'DELETE' });
      notify(`${r.Cleared} rule(s) cleared.`);
      await load();
    });
    refresh.addEventListener('click', load);
    await load();
    const timer = setInterval(() => { if (!document.hidden) load().catch(() => {}); }, 2000);
    return () => clearInterval(timer);
  },
};
