// dom.js - building the page without ever parsing data as HTML: every user string (prompts, key
// names, notes, error messages) goes in as a text node, so "<img onerror=…>" shows as text.
// Nothing in the console uses innerHTML, outerHTML, insertAdjacentHTML or document.write.

/**
 * h('tag.class', {attr: value, onclick: fn}, child, …): an element; strings and numbers become
 * text nodes, null/false children are skipped, arrays are flattened.
 */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export const $ = (id) => document.getElementById(id);

/** Replaces the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Unix seconds as local "YYYY-MM-DD HH:MM". */
export function when(s) {
  if (!s) return '';
  const d = new Date(s * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A money string "12.500000" shown with two to six decimals. */
export function money(s) {
  if (s === null || s === undefined) return '';
  const [i, f = ''] = String(s).split('.');
  const frac = f.replace(/0+$/, '');
  return i + '.' + (frac.length < 2 ? frac.padEnd(2, '0') : frac);
}

export function badge(status) {
  return h('span.badge.s-' + status, {}, status);
}

let toastTimer = 0;
/** A short message at the bottom of the page. */
export function toast(msg, bad = false) {
  const t = $('toast');
  t.textContent = msg;
  t.className = bad ? 'bad' : '';
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

/** The message of an error, for display. */
export const errText = (e) => (e && e.message) || String(e);
