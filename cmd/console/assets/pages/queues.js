import { h, cmdletObjects, shell, table, notify, psQuote } from '../app.js';
import { details, confirm, errorText } from './admin-lib.js';

// Queues, as the EAC's queue viewer: Get-Queue (refreshed every 2 s while the page is shown;
// the refreshes are not listed under "Commands run"), a queue's Get-Message, and the queue and
// message actions, each the shell's cmdlet.
export default {
  title: 'Queues',
  async render(main) {
    const list = h('div', { id: 'q-list' });
    const msgs = h('div', { id: 'q-messages', class: 'panel' }, h('p', {}, 'Select a queue to view its messages.'));
    const btn = (id, label, fn) => h('button', { type: 'button', id, disabled: true, onclick: fn }, label);
    let queue = null, message = null, stopped = false;
    const run = async (script, done) => {
      try { await shell(script); notify(done); } catch (e) { notify(errorText(e), true); }
      await refresh(false);
    };
    const qActions = [
      btn('q-retry', 'Retry queue', () => run(`Retry-Queue -Identity ${psQuote(queue.Identity)}`, `Retry-Queue ${queue.Identity}`)),
      btn('q-suspend', 'Suspend queue', () => run(`Suspend-Queue -Identity ${psQuote(queue.Identity)} -Confirm:$false`, `${queue.Identity} was suspended.`)),
      btn('q-resume', 'Resume queue', () => run(`Resume-Queue -Identity ${psQuote(queue.Identity)} -Confirm:$false`, `${queue.Identity} was resumed.`)),
    ];
    const mActions = [
      btn('m-suspend', 'Suspend message', () => run(`Suspend-Message -Identity ${psQuote(message.Identity)} -Confirm:$false`, `${message.Identity} was suspended.`)),
      btn('m-resume', 'Resume message', () => run(`Resume-Message -Identity ${psQuote(message.Identity)} -Confirm:$false`, `${message.Identity} was resumed.`)),
      btn('m-remove-ndr', 'Remove (with NDR)', async () => {
        if (await confirm(`Remove ${message.Identity} and send the sender an NDR?`)) run(`Remove-Message -Identity ${psQuote(message.Identity)} -WithNDR $true -Confirm:$false`, `${message.Identity} was removed.`);
      }),
      btn('m-remove', 'Remove (without NDR)', async () => {
        if (await confirm(`Remove ${message.Identity} without an NDR?`)) run(`Remove-Message -Identity ${psQuote(message.Identity)} -WithNDR $false -Confirm:$false`, `${message.Identity} was removed.`);
      }),
    ];
    const stamp = h('span', { id: 'q-updated', class: 'muted' });
    main.append(h('h1', {}, 'Queues'), h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Queue actions' }, qActions, stamp),
      h('h2', {}, 'Queues'), list, h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Message actions' }, mActions), msgs);

    const cols = [{ key: 'Identity' }, { key: 'DeliveryType', label: 'Delivery type' }, { key: 'Status' }, { key: 'MessageCount', label: 'Message count' },
      { key: 'NextHopDomain', label: 'Next hop domain' }, { key: 'LastError', label: 'Last error' }];
    const mcols = [{ key: 'Identity' }, { key: 'FromAddress', label: 'From address' }, { key: 'Status' }, { key: 'Subject' }, { key: 'Size' }, { key: 'LastError', label: 'Last error' }];

    let lastQueues = '', lastMessages = '';
    async function refresh(quiet) {
      const qs = await cmdletObjects('Get-Queue', { quiet });
      if (stopped) return;
      stamp.textContent = 'Updated ' + new Date().toLocaleTimeString();
      // Unchanged: the table stays, and with it the keyboard focus and the selection.
      const now = JSON.stringify(qs);
      if (now === lastQueues) { if (queue) await showMessages(true); return; }
      lastQueues = now;
      list.replaceChildren(table(cols, qs, { label: 'Queues', onSelect: (q) => pickQueue(q) }));
      const i = queue ? qs.findIndex(q => q.Identity === queue.Identity) : -1;
      if (i >= 0) {
        queue = qs[i];
        list.querySelectorAll('tbody tr')[i].classList.add('selected');
        await showMessages(true);
      } else if (queue) { queue = null; message = null; enable(); msgs.replaceChildren(h('p', {}, 'Select a queue to view its messages.')); }
    }
    function enable() {
      qActions.forEach(b => { b.disabled = !queue; });
      mActions.forEach(b => { b.disabled = !message; });
    }
    async function pickQueue(q) { queue = q; message = null; lastMessages = ''; enable(); await showMessages(false); }
    async function showMessages(quiet) {
      const ms = await cmdletObjects(`Get-Message -Queue ${psQuote(queue.Identity)}`, { quiet });
      if (stopped) return;
      const now = queue.Identity + JSON.stringify(ms);
      if (now === lastMessages) return;
      lastMessages = now;
      const j = message ? ms.findIndex(m => m.Identity === message.Identity) : -1;
      message = j >= 0 ? ms[j] : null;
      const pane = h('div', { id: 'm-details' }, message ? details(message, 'Properties of ' + message.Identity) : null);
      msgs.replaceChildren(h('h2', {}, `Messages in ${queue.Identity}`),
        table(mcols, ms, { label: 'Messages', empty: 'There are no messages in this queue.', onSelect: (m) => { message = m; enable(); pane.replaceChildren(details(m, 'Properties of ' + m.Identity)); } }), pane);
      if (j >= 0) msgs.querySelectorAll('tbody tr')[j].classList.add('selected');
      enable();
    }
    await refresh(false);
    const timer = setInterval(() => { if (!document.hidden) refresh(true).catch(() => {}); }, 2000);
    return () => { stopped = true; clearInterval(timer); };
  },
};
