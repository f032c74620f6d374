// app.js - the console's entry point: sign-in with an API key, which pages the key may see (an
// admin key gets the operator pages, any other key the caller pages), and navigation by the URL
// fragment (#gallery, #keys, …). The pages themselves live in user.js and admin.js.
import { ApiError, get, getKey, setKey } from './api.js';
import { $, errText, fill, h, toast } from './dom.js';
import { adminPages, initAdmin } from './admin.js';
import { initUser, userPages } from './user.js';

let pages = null; // the page table of the signed-in role

/** Admin or user: /v1/me answers any key and names the admin key's role. */
async function roleOf() {
  const me = await get('/v1/me');
  return { me, admin: me.role === 'admin' };
}

function show(name) {
  if (!pages) return;
  if (!pages[name]) name = Object.keys(pages)[0];
  for (const sec of document.querySelectorAll('section.page')) sec.hidden = sec.id !== 'page-' + name;
  for (const a of $('nav').querySelectorAll('a')) a.classList.toggle('on', a.dataset.page === name);
  document.title = pages[name].title + ' · vidgate console';
  pages[name].load().catch((e) => toast(errText(e), true));
}

async function enter() {
  const { me, admin } = await roleOf();
  pages = admin ? adminPages : userPages;
  document.body.dataset.role = admin ? 'admin' : 'user';
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('signout').hidden = false;
  fill($('nav'), Object.entries(pages).map(([k, p]) => h('a', { href: '#' + k, dataset: { page: k } }, p.title)));
  fill($('who'), me.name, ' ', h('span.muted', {}, admin ? '(admin)' : me.mode === 'test' ? '(test key)' : ''));
  show(location.hash.slice(1));
}

async function signIn(ev) {
  ev.preventDefault();
  $('signin-error').textContent = '';
  setKey($('signin-key').value.trim());
  try {
    await enter();
    $('signin-key').value = '';
  } catch (e) {
    setKey('');
    $('signin-error').textContent = e instanceof ApiError && e.status === 401 ? 'This key is not valid.' : errText(e);
  }
}

function signOut() {
  setKey('');
  pages = null;
  // A navigation to the bare page, not a fragment change: no page of the old role loads again.
  location.replace(location.pathname);
}

function boot() {
  initUser();
  initAdmin();
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  if (getKey()) enter().catch(() => setKey(''));
}

boot();
