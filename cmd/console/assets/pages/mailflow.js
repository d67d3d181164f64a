import { h, cmdletObjects, shell, table, notify, psQuote } from '../app.js';
import { details, field, changedParams, confirm, errorText } from './admin-lib.js';

// Mail flow, as the EAC's "mail flow" tabs: receive connectors, send connectors and accepted
// domains; a list, the selected object's properties, and an edit form whose Save runs the Set-
// cmdlet with the properties the user changed. New- and Remove- as the shell has them.
// isTrue: a Boolean as ConvertTo-Json (true) or Format-List (True) gives it.
const isTrue = (v) => v === true || /^true$/i.test(String(v));

const kinds = {
  receive: {
    label: 'Receive connectors', noun: 'ReceiveConnector',
    columns: [{ key: 'Name' }, { key: 'Enabled', label: 'Status', render: r => isTrue(r.Enabled) ? 'Enabled' : 'Disabled' }, { key: 'TransportRole', label: 'Role' }, { key: 'Bindings' }],
    edit: o => [field('Enabled', o.Enabled, 'bool'), field('Bindings', o.Bindings, 'list', { help: 'IP:port, comma-separated' }),
      field('RemoteIPRanges', o.RemoteIPRanges, 'list', { help: 'ranges, comma-separated' }), field('MaxMessageSize', o.MaxMessageSize, 'text', { help: 'e.g. 36 MB' }),
      field('Banner', o.Banner, 'text', { help: 'e.g. 220 mail.contoso.test' }),
      field('ProtocolLoggingLevel', o.ProtocolLoggingLevel, 'select', { values: ['None', 'Verbose'] }),
      field('TarpitInterval', o.TarpitInterval, 'text', { help: 'hh:mm:ss' }), field('PermissionGroups', o.PermissionGroups, 'list')],
    create: () => [field('Name', '', 'text', { required: true }), field('Usage', 'Custom', 'select', { values: ['Custom', 'Internet', 'Internal', 'Client', 'Partner'] }),
      field('Bindings', '', 'list', { help: 'IP:port', required: true }), field('RemoteIPRanges', '0.0.0.0-255.255.255.255', 'list'), field('TransportRole', 'FrontendTransport', 'select', { values: ['FrontendTransport', 'HubTransport'] })],
  },
  send: {
    label: 'Send connectors', noun: 'SendConnector',
    columns: [{ key: 'Name' }, { key: 'Enabled', label: 'Status', render: r => isTrue(r.Enabled) ? 'Enabled' : 'Disabled' }, { key: 'AddressSpaces' }, { key: 'SmartHosts' }],
    edit: o => [field('Enabled', o.Enabled, 'bool'), field('AddressSpaces', o.AddressSpaces, 'list', { help: 'e.g. SMTP:*;1' }),
      field('SmartHosts', o.SmartHosts, 'list', { help: 'host or [IP]:port' }), field('MaxMessageSize', o.MaxMessageSize, 'text', { help: 'e.g. 35 MB' })],
    create: () => [field('Name', '', 'text', { required: true }), field('Usage', 'Custom', 'select', { values: ['Custom', 'Internet', 'Internal', 'Partner'] }),
      field('AddressSpaces', 'SMTP:*;1', 'list', { required: true }), field('SmartHosts', '', 'list')],
  },
  domains: {
    label: 'Accepted domains', noun: 'AcceptedDomain',
    columns: [{ key: 'Name' }, { key: 'DomainName', label: 'Accepted domain' }, { key: 'DomainType', label: 'Domain type' }, { key: 'Default' }],
    edit: o => [field('DomainType', o.DomainType, 'select', { values: ['Authoritative', 'InternalRelay', 'ExternalRelay'] }),
      field('MakeDefault', isTrue(o.Default), 'bool', { label: 'Make default' })],
    create: () => [field('Name', '', 'text', { required: true }), field('DomainName', '', 'text', { required: true }),
      field('DomainType', 'Authoritative', 'select', { values: ['Authoritative', 'InternalRelay', 'ExternalRelay'] })],
  },
};

export default {
  title: 'Mail flow',
  async render(main, args) {
    let kind = kinds[args[0]] ? args[0] : 'receive';
    const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': 'Mail flow objects' });
    const list = h('div', { id: 'mf-list' });
    const pane = h('div', { id: 'mf-details', class: 'panel' }, h('p', {}, 'Select an item to view its details.'));
    const newBtn = h('button', { type: 'button', id: 'mf-new' }, 'New');
    const removeBtn = h('button', { type: 'button', id: 'mf-remove', disabled: true }, 'Remove');
    const refreshBtn = h('button', { type: 'button', id: 'mf-refresh' }, 'Refresh');
    let selected = null;
    main.append(h('h1', {}, 'Mail flow'), tabs, h('div', { class: 'toolbar' }, newBtn, removeBtn, refreshBtn), h('div', { class: 'split' }, list, pane));

    for (const [id, k] of Object.entries(kinds)) {
      tabs.append(h('button', { type: 'button', 'data-kind': id, 'aria-pressed': String(id === kind), onclick: () => { kind = id; load(); } }, k.label));
    }

    async function load(keep) {
      const k = kinds[kind];
      tabs.querySelectorAll('button').forEach(b => b.setAttribute('aria-pressed', String(b.dataset.kind === kind)));
      removeBtn.disabled = true;
      selected = null;
      if (!keep) pane.replaceChildren(h('p', {}, 'Select an item to view its details.'));
      const rows = await cmdletObjects('Get-' + k.noun);
      list.replaceChildren(table(k.columns, rows, { label: k.label, onSelect: (o) => show(o) }));
      if (keep) {
        const i = rows.findIndex(r => r.Identity === keep);
        if (i >= 0) { list.querySelectorAll('tbody tr')[i].classList.add('selected'); show(rows[i]); }
      }
    }

    function show(o) {
      const k = kinds[kind];
      selected = o;
      removeBtn.disabled = false;
      const fields = k.edit(o);
      const err = h('p', { class: 'error', role: 'alert', id: 'mf-error' });
      const form = h('form', { id: 'mf-edit', 'aria-label': 'Edit ' + o.Identity }, fields.map(f => f.el),
        h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Save')), err);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        err.textContent = '';
        const params = changedParams(fields);
        if (!params) { notify('Nothing was changed.'); return; }
        try {
          await shell(`Set-${k.noun} -Identity ${psQuote(o.Identity)}${params}`);
          notify(`${o.Identity} was saved.`);
          await load(o.Identity);
        } catch (ex) { err.textContent = errorText(ex); notify('The change was refused.', true); }
      });
      pane.replaceChildren(h('h2', {}, o.Identity), h('h3', {}, 'Edit'), form, h('h3', {}, 'Properties'), details(o, 'Properties of ' + o.Identity));
    }

    newBtn.addEventListener('click', () => {
      const k = kinds[kind];
      const fields = k.create();
      const err = h('p', { class: 'error', role: 'alert', id: 'mf-error' });
      const form = h('form', { id: 'mf-create', 'aria-label': 'New ' + k.noun }, fields.map(f => f.el),
        h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Save')), err);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        err.textContent = '';
        const usage = fields.find(f => f.name === 'Usage');
        const rest = fields.filter(f => f !== usage);
        rest.forEach(f => { f.initial = null; });
        const params = changedParams(rest.filter(f => f.input.value.trim() !== ''));
        try {
          await shell(`New-${k.noun}${usage ? ' -Usage ' + usage.input.value : ''}${params}`);
          notify(`${fields[0].input.value} was created.`);
          await load();
        } catch (ex) { err.textContent = errorText(ex); notify('The new object was refused.', true); }
      });
      pane.replaceChildren(h('h2', {}, 'New ' + k.label.replace(/s$/, '').toLowerCase()), form);
      fields[0].input.focus();
    });

    removeBtn.addEventListener('click', async () => {
      if (!selected) return;
      const k = kinds[kind];
      const o = selected;
      if (!await confirm(`Are you sure you want to remove ${o.Identity}?`)) return;
      try {
        await shell(`Remove-${k.noun} -Identity ${psQuote(o.Identity)} -Confirm:$false`);
        notify(`${o.Identity} was removed.`);
        await load();
      } catch (ex) { pane.append(h('p', { class: 'error', role: 'alert' }, errorText(ex))); notify('The removal was refused.', true); }
    });
    refreshBtn.addEventListener('click', () => load(selected && selected.Identity));
    await load();
  },
};
