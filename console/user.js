// user.js - what any key sees: its tasks as a gallery (filter, cursor paging, a player), the
// submit form with a live view of the new task (long-poll GET ?wait= with the ETag), its money
// (balance, held, available, ledger) and its assets. Every string from the server goes in as
// text (dom.js).
import { ApiError, call, get, post, qs } from './api.js';
import { $, badge, errText, fill, h, money, toast, when } from './dom.js';

const PAGE = 12;
const prompts = new Map(); // task id → prompt (the native object has none; /v1/videos has it)
const gallery = { after: '', status: '' };

/** Only web URLs become src/href: nothing from the server can turn into javascript:. */
export function safeUrl(u) {
  return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null;
}

async function promptOf(id) {
  if (!prompts.has(id)) {
    prompts.set(id, get('/v1/videos/' + encodeURIComponent(id)).then((v) => v.prompt || '', () => ''));
  }
  return prompts.get(id);
}

function taskCard(t) {
  const thumb = safeUrl(t.output && t.output.thumbnail_url);
  const promptEl = h('p.prompt', {}, '…');
  promptOf(t.id).then((p) => (promptEl.textContent = p || '(no prompt)'));
  const card = h('article.task', { tabindex: 0, dataset: { id: t.id, status: t.status } },
    thumb ? h('img.thumb', { src: thumb, alt: '', loading: 'lazy' }) : h('div.thumb.empty', {}, t.status === 'completed' ? 'no preview' : t.status),
    h('div.body', {},
      promptEl,
      h('div.facts', {}, badge(t.status), h('span', {}, t.model), h('span', {}, t.size || t.resolution || ''),
        t.seconds ? h('span', {}, t.seconds + ' s') : null,
        t.cost ? h('span.cost', {}, money(t.cost)) : null),
      t.error && t.error.message ? h('p.error', {}, t.error.message) : null));
  const open = () => openPlayer(t, promptEl.textContent);
  card.addEventListener('click', open);
  card.addEventListener('keydown', (e) => e.key === 'Enter' && open());
  return card;
}

function openPlayer(t, prompt) {
  const dlg = $('player');
  const v = $('player-video');
  const src = safeUrl(t.output && t.output.video_url);
  $('player-title').textContent = prompt || t.id;
  v.hidden = !src;
  if (src) {
    v.src = src;
    v.muted = true;
    v.play().catch(() => {});
  } else {
    v.removeAttribute('src');
  }
  const row = (k, val) => [h('dt', {}, k), h('dd', {}, val)];
  fill($('player-meta'),
    row('task', t.id), row('status', t.status), row('model', t.model), row('size', t.size || ''),
    row('seconds', t.seconds || ''), row('seed', t.seed ?? ''), row('cost', t.cost ? money(t.cost) : ''),
    row('created', when(t.created_at)), t.error ? row('error', t.error.message || t.error.code) : null);
  dlg.showModal();
}

function closePlayer() {
  const v = $('player-video');
  v.pause();
  v.removeAttribute('src');
  v.load();
  $('player').close();
}

export async function loadGallery(reset = true) {
  if (reset) {
    gallery.after = '';
    $('gallery').replaceChildren();
  }
  gallery.status = $('gallery-status').value;
  const list = await get('/v1/video/generations' + qs({ status: gallery.status, limit: PAGE, after: gallery.after }));
  for (const t of list.data) $('gallery').appendChild(taskCard(t));
  if (!list.data.length && reset) $('gallery').appendChild(h('p.muted', {}, 'No tasks yet.'));
  gallery.after = list.last_id || '';
  $('gallery-more').hidden = !list.has_more;
}

// ---- submit --------------------------------------------------------------------------------
let models = [];

function fillResolutions() {
  const m = models.find((x) => x.id === $('submit-model').value);
  if (!m) return;
  fill($('submit-resolution'), m.resolutions.map((r) => h('option', {}, r)));
  const s = $('submit-seconds');
  s.min = m.seconds.min;
  s.max = m.seconds.max;
}

async function loadModels() {
  if (models.length) return;
  models = (await get('/v1/models')).data;
  fill($('submit-model'), models.map((m) => h('option', { value: m.id }, m.id)));
  fillResolutions();
}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function previewImage() {
  const f = $('submit-image').files[0];
  const img = $('submit-preview');
  if (!f) {
    img.hidden = true;
    img.removeAttribute('src');
    return;
  }
  img.src = await readDataUrl(f);
  img.hidden = false;
}

async function submitTask(ev) {
  ev.preventDefault();
  $('submit-error').textContent = '';
  const body = {
    model: $('submit-model').value,
    prompt: $('submit-prompt').value,
    seconds: String($('submit-seconds').value),
    metadata: { resolution: $('submit-resolution').value, ratio: $('submit-ratio').value },
  };
  const f = $('submit-image').files[0];
  if (f) body.images = [await readDataUrl(f)];
  $('submit-go').disabled = true;
  try {
    const t = await post('/v1/video/generations', body);
    prompts.set(t.id, Promise.resolve(body.prompt));
    watchTask(t.id);
    toast('Task ' + t.id + ' queued');
  } catch (e) {
    $('submit-error').textContent = errText(e);
  } finally {
    $('submit-go').disabled = false;
  }
}

let watching = null;

/** Follows a task with long-polls until it is final, showing status and progress. */
async function watchTask(id) {
  if (watching) watching.abort();
  const ctl = new AbortController();
  watching = ctl;
  $('submit-live').hidden = false;
  $('live-id').textContent = id;
  $('live-error').textContent = '';
  $('live-status').textContent = 'submitted';
  $('live-status').className = 'badge';
  $('live-progress').value = 0;
  const v = $('live-video');
  v.hidden = true;
  v.removeAttribute('src');
  let etag = '';
  for (;;) {
    let r;
    try {
      r = await call('GET', '/v1/video/generations/' + encodeURIComponent(id) + '?wait=25', undefined,
        { headers: etag ? { 'If-None-Match': etag } : {}, signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e instanceof ApiError) {
        $('live-error').textContent = errText(e);
        return;
      }
      await new Promise((res) => setTimeout(res, 1000)); // network hiccup: try again
      continue;
    }
    const t = r.body;
    etag = r.res.headers.get('ETag') || '';
    const st = $('live-status');
    st.textContent = t.status;
    st.className = 'badge s-' + t.status;
    $('live-progress').value = t.progress || 0;
    if (['completed', 'failed', 'cancelled'].includes(t.status)) {
      if (t.status === 'completed') {
        const src = safeUrl(t.output && t.output.video_url);
        if (src) {
          v.src = src;
          v.muted = true;
          v.loop = true;
          v.hidden = false;
          v.play().catch(() => {});
        }
      } else if (t.error) {
        $('live-error').textContent = t.error.message || t.error.code;
      }
      if (watching === ctl) watching = null;
      return;
    }
  }
}

// ---- account and assets --------------------------------------------------------------------
const ledger = { before: 0 };

export function ledgerRow(e) {
  return h('tr', { dataset: { kind: e.kind } }, h('td', {}, e.id), h('td', {}, when(e.created_at)),
    h('td', {}, e.kind), h('td.num', {}, money(e.amount)), h('td.mono', {}, e.task_id || ''), h('td', {}, e.note || ''));
}

export async function loadAccount(reset = true) {
  const me = await get('/v1/me');
  const stat = (k, v, id) => h('div.stat', { id }, h('span.k', {}, k), h('span.v', {}, v));
  fill($('account-stats'),
    stat('Balance', money(me.balance), 'stat-balance'), stat('Held', money(me.held), 'stat-held'),
    stat('Available', money(me.available), 'stat-available'), stat('Mode', me.mode),
    stat('Max active', me.limits.max_active_tasks || 'no limit'),
    stat('Rate / min', me.limits.rate_limit_per_min || 'no limit'),
    stat('Models', me.allowed_models ? me.allowed_models.join(', ') : 'all'));
  if (reset) {
    ledger.before = 0;
    $('account-ledger').replaceChildren();
  }
  const l = await get('/v1/me/ledger' + qs({ limit: 20, before: ledger.before || '' }));
  for (const e of l.data) $('account-ledger').appendChild(ledgerRow(e));
  ledger.before = l.next_before || 0;
  $('account-more').hidden = !l.has_more;
}

export async function loadAssets() {
  const r = await post('/v1/seedance/asset/ListAssets', { PageSize: 100 });
  const items = (r.Result && r.Result.Items) || [];
  fill($('assets-body'), items.length ? items.map((a) => {
    const url = safeUrl(a.URL);
    return h('tr', {}, h('td.mono', {}, a.Id), h('td', {}, a.Name || ''), h('td', {}, a.AssetType),
      h('td', {}, a.Status, a.Error && a.Error.Code ? ' (' + a.Error.Code + ')' : ''), h('td', {}, a.CreateTime || ''),
      h('td', {}, url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, 'open') : ''));
  }) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No assets. Upload with `vidgate assets upload` or the Assets API.')));
}

export function initUser() {
  $('gallery-status').addEventListener('change', () => loadGallery().catch((e) => toast(errText(e), true)));
  $('gallery-refresh').addEventListener('click', () => loadGallery().catch((e) => toast(errText(e), true)));
  $('gallery-more').addEventListener('click', () => loadGallery(false).catch((e) => toast(errText(e), true)));
  $('player-close').addEventListener('click', closePlayer);
  $('player').addEventListener('cancel', closePlayer);
  $('submit-model').addEventListener('change', fillResolutions);
  $('submit-image').addEventListener('change', () => previewImage().catch((e) => toast(errText(e), true)));
  $('submit-form').addEventListener('submit', (e) => submitTask(e).catch((x) => toast(errText(x), true)));
  $('account-more').addEventListener('click', () => loadAccount(false).catch((e) => toast(errText(e), true)));
}

export const userPages = {
  gallery: { title: 'Tasks', load: () => loadGallery() },
  submit: { title: 'New task', load: () => loadModels() },
  account: { title: 'Account', load: () => loadAccount() },
  assets: { title: 'Assets', load: () => loadAssets() },
};
