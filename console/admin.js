// admin.js - what the admin key sees: keys (create with a balance and limits, credit/debit with
// a note, edit models and limits, revoke, the ledger), usage over a date range (a daily chart
// and totals by model and by key), channels and their health, and every task with filters.
import { del, get, patch, post, qs } from './api.js';
import { dailyChart } from './chart.js';
import { $, badge, errText, fill, h, money, toast, when } from './dom.js';
import { ledgerRow } from './user.js';

// ---- keys ----------------------------------------------------------------------------------
let currentKey = null;

const modelsOf = (text) => {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  return list.length ? list : null;
};

async function loadKeys() {
  const rows = (await get('/admin/keys')).data;
  fill($('keys-body'), rows.map((k) => h('tr', { dataset: { id: k.id, name: k.name } },
    h('td', {}, k.name), h('td.mono', {}, k.id), h('td', {}, k.role), h('td', {}, badge(k.status)),
    h('td.num', {}, money(k.balance)), h('td.num', {}, money(k.held)),
    h('td', {}, k.allowed_models ? k.allowed_models.join(', ') : 'all'),
    h('td', {}, `${k.limits.max_active_tasks || '∞'} active, ${k.limits.rate_limit_per_min || '∞'}/min`),
    h('td', {}, k.role === 'user' ? h('button.ghost.manage', { type: 'button', onclick: () => openKey(k.id) }, 'Manage') : ''))));
}

async function createKey(ev) {
  ev.preventDefault();
  const f = ev.target;
  $('key-error').textContent = '';
  $('key-secret').textContent = '';
  try {
    const k = await post('/admin/keys', {
      name: f.name.value,
      balance: f.balance.value || '0',
      max_active_tasks: Number(f.max_active_tasks.value || 0),
      rate_limit_per_min: Number(f.rate_limit_per_min.value || 0),
      allowed_models: modelsOf(f.allowed_models.value),
    });
    fill($('key-secret'), 'Secret of ', h('b', {}, k.name), ' (shown once): ', h('code', { id: 'new-key-secret' }, k.key));
    f.name.value = '';
    await loadKeys();
  } catch (e) {
    $('key-error').textContent = errText(e);
  }
}

async function openKey(id) {
  const k = await get('/admin/keys/' + encodeURIComponent(id));
  currentKey = k;
  $('key-detail').hidden = false;
  fill($('kd-title'), k.name, ' ', h('span.muted', {}, `balance ${money(k.balance)}, held ${money(k.held)}, available ${money(k.available)}`));
  const f = $('kd-edit');
  f.name.value = k.name;
  f.max_active_tasks.value = k.limits.max_active_tasks;
  f.rate_limit_per_min.value = k.limits.rate_limit_per_min;
  f.allowed_models.value = k.allowed_models ? k.allowed_models.join(', ') : '';
  $('kd-error').textContent = '';
  const l = await get('/admin/keys/' + encodeURIComponent(id) + '/ledger?limit=50');
  fill($('kd-ledger'), l.data.map(ledgerRow));
  $('key-detail').scrollIntoView({ block: 'nearest' });
}

async function moveMoney(ev) {
  ev.preventDefault();
  const op = ev.submitter && ev.submitter.value === 'debit' ? 'debit' : 'credit';
  const f = ev.target;
  try {
    await post(`/admin/keys/${encodeURIComponent(currentKey.id)}/${op}`, { amount: f.amount.value, note: f.note.value });
    toast(`${op} of ${f.amount.value} done`);
    f.amount.value = '';
    f.note.value = '';
    await Promise.all([openKey(currentKey.id), loadKeys()]);
  } catch (e) {
    $('kd-error').textContent = errText(e);
  }
}

async function editKey(ev) {
  ev.preventDefault();
  const f = ev.target;
  try {
    await patch('/admin/keys/' + encodeURIComponent(currentKey.id), {
      name: f.name.value,
      max_active_tasks: Number(f.max_active_tasks.value || 0),
      rate_limit_per_min: Number(f.rate_limit_per_min.value || 0),
      allowed_models: modelsOf(f.allowed_models.value),
    });
    toast('Saved');
    await Promise.all([openKey(currentKey.id), loadKeys()]);
  } catch (e) {
    $('kd-error').textContent = errText(e);
  }
}

async function revokeKey() {
  if (!currentKey || !window.confirm(`Revoke ${currentKey.name}? Its links stop working at once.`)) return;
  try {
    await del('/admin/keys/' + encodeURIComponent(currentKey.id));
    $('key-detail').hidden = true;
    await loadKeys();
  } catch (e) {
    $('kd-error').textContent = errText(e);
  }
}

// ---- usage ---------------------------------------------------------------------------------
const MAX_DAYS = 62;
const isoDay = (d) => d.toISOString().slice(0, 10);

function defaultRange() {
  const f = $('usage-form');
  if (f.to.value) return;
  const today = new Date();
  f.to.value = isoDay(today);
  f.from.value = isoDay(new Date(today.getTime() - 13 * 86400000));
}

async function loadUsage(ev) {
  if (ev) ev.preventDefault();
  defaultRange();
  const f = $('usage-form');
  const from = Date.parse(f.from.value + 'T00:00:00Z') / 1000;
  let to = Date.parse(f.to.value + 'T00:00:00Z') / 1000 + 86400;
  if (!(to > from)) return toast('the range is empty', true);
  if ((to - from) / 86400 > MAX_DAYS) to = from + MAX_DAYS * 86400;
  const days = [];
  for (let t = from; t < to; t += 86400) days.push(t);
  // Days are UTC, as the server's dates are; one usage query a day, a few at a time.
  const rows = [];
  for (let i = 0; i < days.length; i += 8) {
    const part = await Promise.all(days.slice(i, i + 8).map((d) =>
      get('/admin/usage' + qs({ from: d, to: d + 86400 })).then((u) => ({
        day: isoDay(new Date(d * 1000)), cost: Number(u.total.cost), tasks: u.total.tasks, currency: u.currency }))));
    rows.push(...part);
  }
  const currency = rows.length ? rows[0].currency : '';
  fill($('usage-chart'), dailyChart(rows, currency));
  const [byModel, byKey] = await Promise.all([
    get('/admin/usage' + qs({ from, to, group_by: 'model' })),
    get('/admin/usage' + qs({ from, to, group_by: 'key' })),
  ]);
  const line = (label, r) => h('tr', {}, label, h('td.num', {}, r.tasks), h('td.num', {}, r.tokens), h('td.num', {}, money(r.cost)));
  fill($('usage-model'), byModel.data.map((r) => line(h('td', {}, r.model), r)), line(h('td', {}, h('b', {}, 'total')), byModel.total));
  fill($('usage-key'), byKey.data.map((r) => line(h('td', {}, r.name || r.key_id, ' ', h('span.muted.mono', {}, r.key_id)), r)),
    line(h('td', {}, h('b', {}, 'total')), byKey.total));
}

// ---- channels ------------------------------------------------------------------------------
function health(c) {
  if (c.cooldown_ms > 0) return h('span.badge.s-failed', {}, 'cooling down');
  if (c.faults > 0) return h('span.badge.s-running', {}, 'refusing');
  return h('span.badge.s-completed', {}, 'healthy');
}

async function loadChannels() {
  const r = await get('/admin/channels');
  fill($('channels-body'), r.data.map((c) => h('tr', { dataset: { name: c.name } },
    h('td', {}, c.name), h('td', {}, c.type), h('td', {}, health(c)),
    h('td.num', {}, c.active, c.max_active ? ` / ${c.max_active}` : ''),
    h('td.num', {}, c.requests), h('td.num', {}, c.errors, c.faults ? ` (${c.faults} in a row)` : ''),
    h('td.num', {}, c.cooldown_ms ? (c.cooldown_ms / 1000).toFixed(1) + ' s' : '—'),
    h('td.num', {}, (c.expected_ms / 1000).toFixed(1) + ' s', c.learned ? '' : ' (guess)'),
    h('td.num', {}, `${c.priority} / ${c.weight}`))));
}

// ---- all tasks -----------------------------------------------------------------------------
const tasks = { after: '' };

async function loadTasks(reset = true) {
  const f = $('tasks-filter');
  if (reset) {
    tasks.after = '';
    $('tasks-body').replaceChildren();
  }
  const r = await get('/admin/tasks' + qs({ key_id: f.key_id.value.trim(), status: f.status.value, limit: 50, after: tasks.after }));
  for (const t of r.data)
    $('tasks-body').appendChild(h('tr', { dataset: { id: t.id } }, h('td.mono', {}, t.id), h('td.mono', {}, t.key_id),
      h('td', {}, t.model), h('td', {}, t.size || ''), h('td', {}, badge(t.status)),
      h('td.num', {}, t.cost ? money(t.cost) : ''), h('td', {}, when(t.created_at))));
  tasks.after = r.last_id || '';
  $('tasks-more').hidden = !r.has_more;
}

export function initAdmin() {
  $('key-create').addEventListener('submit', createKey);
  $('kd-money').addEventListener('submit', moveMoney);
  $('kd-edit').addEventListener('submit', editKey);
  $('kd-revoke').addEventListener('click', revokeKey);
  $('kd-close').addEventListener('click', () => ($('key-detail').hidden = true));
  $('usage-form').addEventListener('submit', (e) => loadUsage(e).catch((x) => toast(errText(x), true)));
  $('channels-refresh').addEventListener('click', () => loadChannels().catch((e) => toast(errText(e), true)));
  $('tasks-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    loadTasks().catch((x) => toast(errText(x), true));
  });
  $('tasks-more').addEventListener('click', () => loadTasks(false).catch((e) => toast(errText(e), true)));
}

export const adminPages = {
  keys: { title: 'Keys', load: () => loadKeys() },
  usage: { title: 'Usage', load: () => loadUsage() },
  channels: { title: 'Channels', load: () => loadChannels() },
  tasks: { title: 'All tasks', load: () => loadTasks() },
};
