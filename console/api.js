// api.js - the console's only way to the server: the public JSON API with the signed-in key.
// The key lives in sessionStorage (this tab only; gone when it closes), never in localStorage or
// a cookie, and is sent as "Authorization: Bearer" to this origin only.
const KEY_SLOT = 'vidgate.key';

export function getKey() {
  return sessionStorage.getItem(KEY_SLOT) || '';
}

export function setKey(k) {
  if (k) sessionStorage.setItem(KEY_SLOT, k);
  else sessionStorage.removeItem(KEY_SLOT);
}

/** An API failure: status, the envelope's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

/** Calls the API and returns {body, res}; throws ApiError for non-2xx answers. */
export async function call(method, path, body, { headers = {}, signal } = {}) {
  // Signed out (or signing out): nothing leaves without a key.
  if (!getKey()) throw new ApiError(401, 'signed_out', 'not signed in');
  const h = { Authorization: 'Bearer ' + getKey(), ...headers };
  const init = { method, headers: h, cache: 'no-store', signal };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = (json && json.error) || (json && json.ResponseMetadata && json.ResponseMetadata.Error) || {};
    throw new ApiError(res.status, e.code || e.Code, e.message || e.Message);
  }
  return { body: json, res };
}

export const get = (path, opts) => call('GET', path, undefined, opts).then((r) => r.body);
export const post = (path, body, opts) => call('POST', path, body, opts).then((r) => r.body);
export const patch = (path, body) => call('PATCH', path, body).then((r) => r.body);
export const del = (path) => call('DELETE', path).then((r) => r.body);

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}
