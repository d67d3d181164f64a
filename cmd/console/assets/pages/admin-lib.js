// admin-lib.js: what the admin pages (mailflow, queues, trace, events, faults, health) share:
// a properties pane, labelled form fields, and the in-page
// confirmation a Remove- asks for. Not a page (the router only loads the ids it lists).
import { h, fmt, psQuote } from '../app.js';

// details is a definition list of every property of o.
export function details(o, label) {
  return h('dl', { class: 'props', 'aria-label': label },
    Object.keys(o).sort().map(k => [h('dt', {}, k), h('dd', {}, fmt(o[k]))]));
}

let fieldSeq = 0;

// field is a labelled control: kind text (default), bool (True/False select), select
// (opts.values), list (comma-separated), number. It returns {el, input, value()}.
export function field(name, value, kind = 'text', opts = {}) {
  const id = `f-${name}-${++fieldSeq}`;
  let input;
  if (kind === 'bool' || kind === 'select') {
    const values = kind === 'bool' ? ['True', 'False'] : opts.values;
    input = h('select', { id, name }, values.map(v => h('option', { value: v }, v === '' ? '(any)' : v)));
    input.value = value === true ? 'True' : value === false ? 'False' : String(value ?? values[0]);
  } else {
    input = h('input', { id, name, type: kind === 'number' ? 'number' : 'text', value: Array.isArray(value) ? value.join(', ') : fmt(value),
      placeholder: opts.placeholder, 'aria-describedby': opts.help ? id + '-help' : null, required: opts.required });
  }
  const el = h('div', { class: 'field' }, h('label', { for: id }, opts.label || name), input,
    opts.help ? h('small', { id: id + '-help' }, opts.help) : null);
  return { el, input, name, kind, initial: input.value };
}

// psValue writes a field's value as a cmdlet argument: $true/$false, a list 'a','b', or a
// quoted string.
export function psValue(f) {
  const v = f.input.value.trim();
  if (f.kind === 'bool') return v === 'True' ? '$true' : '$false';
  if (f.kind === 'list') return v ? v.split(',').map(s => psQuote(s.trim())).filter(s => s !== "''").join(',') : '$null';
  if (f.kind === 'number') return v;
  return psQuote(v);
}

// changedParams is " -Name value" for every field whose value the user changed.
export function changedParams(fields) {
  return fields.filter(f => f.input.value !== f.initial).map(f => ` -${f.name} ${psValue(f)}`).join('');
}

// confirm asks in the page (a modal dialog) and resolves true or false.
export function confirm(question) {
  return new Promise(resolve => {
    const yes = h('button', { type: 'button', class: 'primary' }, 'Yes');
    const no = h('button', { type: 'button' }, 'No');
    const d = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-q' }, h('p', { id: 'confirm-q' }, question), h('div', { class: 'toolbar' }, yes, no));
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(d);
    d.showModal();
    no.focus();
  });
}

// errorText is what a refused cmdlet said (its first lines, without the CategoryInfo block).
export function errorText(e) {
  return String(e.message || e).split('\n').filter(l => !/^\s*\+ /.test(l)).join('\n').trim();
}
