// console.test.mjs - the web console (/console/) in a real browser: Debian's headless chromium
// driven by puppeteer-core, against a real vidgated started here on a free loopback port with a
// temporary data directory (as tests/sdk does).
//
// What it checks: the console's files carry the security headers (CSP without inline scripts,
// frame-ancestors 'none', X-Frame-Options, nosniff, no-referrer) and caching headers (ETag,
// Cache-Control, 304 on revalidation); path traversal (raw and percent-encoded) is a 404; a user
// key signs in (kept in sessionStorage only), submits a task with a first-frame image and sees it
// complete live; the video plays in a <video> element (duration > 0, currentTime advances), in
// the live view and from the gallery; a prompt made of HTML renders as text and fires no dialog;
// the admin key signs in, credits the user key with a note and sees the ledger row, the usage
// chart has today's bar, the channel table shows the local channel. No CSP violation and no
// script error may appear in the browser console; the server log must hold no sanitizer report
// and no ERROR line. Screenshots of every page go to $VG_CONSOLE_SHOTS (default:
// <build>/console-shots). No timing is asserted (the ASan build is slower): waits are generous.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import puppeteer from 'puppeteer-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BUILD = path.resolve(ROOT, process.env.VG_BUILD || 'build');
const SHOTS = path.resolve(process.env.VG_CONSOLE_SHOTS || path.join(BUILD, 'console-shots'));
const CHROMIUM = process.env.VG_CHROMIUM || '/usr/bin/chromium';
const BAD_LOG = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = 120000; // a render under ASan on a busy machine

// ---- a PNG made here (zlib is in node; CRC-32 is a few lines) -------------------------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(tag, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(tag, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An RGB PNG: a sunset-like gradient with a checker pattern, so the camera move shows. */
function pngBytes(w, h) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      const check = ((x >> 5) + (y >> 5)) % 2 ? 30 : 0;
      raw[row + 1 + x * 3] = Math.min(255, 220 - (y * 120) / h + check);
      raw[row + 2 + x * 3] = Math.min(255, (x * 140) / w + 60 + check);
      raw[row + 3 + x * 3] = Math.min(255, (y * 180) / h + 40);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- the server and the browser -------------------------------------------------------------
const srv = {};
const seen = { dialogs: [], problems: [] };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function serverLog() {
  try {
    return readFileSync(srv.logPath, 'utf8');
  } catch {
    return '';
  }
}

async function waitReady(base, deadlineMs) {
  while (Date.now() < deadlineMs) {
    if (srv.proc.exitCode !== null) throw new Error('vidgated exited at start:\n' + serverLog());
    try {
      if ((await fetch(base + '/readyz')).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(50);
  }
  throw new Error('vidgated did not become ready:\n' + serverLog());
}

/** A GET with the path sent exactly as given (fetch would normalise "..").  */
function rawGet(p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: p, headers, agent: false }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function api(method, p, key, body) {
  const r = await fetch(srv.base + p, {
    method,
    headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

async function shot(name) {
  await srv.page.$eval('#toast', (t) => (t.hidden = true));
  await srv.page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  srv.data = mkdtempSync(path.join(os.tmpdir(), 'vg-console-'));
  srv.port = await freePort();
  srv.base = `http://127.0.0.1:${srv.port}`;
  srv.adminKey = 'sk-admin-' + Math.random().toString(36).slice(2) + Date.now().toString(36);
  srv.logPath = path.join(srv.data, 'server.log');
  const log = openSync(srv.logPath, 'w');
  srv.proc = spawn(path.join(BUILD, 'vidgated'), ['--listen', `127.0.0.1:${srv.port}`, '--data', srv.data], {
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      VIDGATE_ADMIN_KEY: srv.adminKey,
      VIDGATE_RENDER_WORKERS: '2',
      VIDGATE_THREADS: '2',
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=23',
      LSAN_OPTIONS: 'print_suppressions=0:suppressions=' + path.join(ROOT, 'tests', 'lsan.supp'),
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    },
  });
  srv.exited = new Promise((resolve) => srv.proc.on('exit', (code, sig) => resolve({ code, sig })));
  await waitReady(srv.base, Date.now() + 30000);
  const k = await api('POST', '/admin/keys', srv.adminKey, { name: 'studio-north', balance: '25.00' });
  srv.userKey = k.key;
  srv.userId = k.id;
  srv.imagePath = path.join(srv.data, 'first-frame.png');
  writeFileSync(srv.imagePath, pngBytes(640, 360));

  srv.browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--mute-audio', '--autoplay-policy=no-user-gesture-required'],
    userDataDir: path.join(srv.data, 'chromium'),
  });
  srv.page = await srv.browser.newPage();
  await srv.page.setViewport({ width: 1280, height: 860 });
  srv.page.setDefaultTimeout(WAIT);
  srv.page.on('dialog', async (d) => {
    seen.dialogs.push(d.type() + ': ' + d.message());
    await d.dismiss();
  });
  srv.page.on('console', (m) => {
    const t = m.text();
    // A load the page itself dropped (a video or thumbnail left behind by navigation, a long-poll
    // cancelled by sign-out) is not an error of the console.
    if (/net::ERR_ABORTED/.test(t)) return;
    if (m.type() === 'error' || /Content.Security.Policy|Refused to/i.test(t))
      seen.problems.push(t + ' at ' + JSON.stringify(m.location()));
  });
  srv.page.on('requestfailed', (r) => {
    const f = r.failure();
    if (f && !/ERR_ABORTED/.test(f.errorText)) seen.problems.push(`request failed: ${r.url()} ${f.errorText}`);
  });
  srv.page.on('pageerror', (e) => seen.problems.push('page error: ' + e.message));
});

after(async () => {
  if (srv.browser) await srv.browser.close().catch(() => {});
  if (!srv.proc) return;
  await sleep(300); // let the server see the browser's connections close
  srv.proc.kill('SIGTERM');
  let timer;
  const { code, sig } = await Promise.race([
    srv.exited,
    new Promise((r) => (timer = setTimeout(() => r({ code: 'timeout' }), 30000))),
  ]);
  clearTimeout(timer); // a pending timer would keep the test process alive for its 30 s
  if (code === 'timeout') srv.proc.kill('SIGKILL');
  const text = serverLog();
  if (process.env.VG_CONSOLE_KEEP_DATA !== '1') rmSync(srv.data, { recursive: true, force: true });
  for (const m of BAD_LOG) assert.ok(!text.includes(m), 'sanitizer report in the server log:\n' + text.slice(-6000));
  const errors = text.split('\n').filter((l) => l.includes(' ERROR '));
  assert.deepEqual(errors, [], 'unexpected errors in the server log');
  assert.ok(code === 0 || sig === 'SIGTERM', `vidgated exited with ${code ?? sig}`);
});

// ---- the files ----------------------------------------------------------------------------
test('console files: security and caching headers, MIME types, no path traversal', async () => {
  const r = await rawGet('/console/');
  assert.equal(r.status, 200);
  const csp = r.headers['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.ok(r.headers.etag, 'an ETag');
  const again = await rawGet('/console/', { 'If-None-Match': r.headers.etag });
  assert.equal(again.status, 304);
  const types = { 'app.js': /^text\/javascript/, 'app.css': /^text\/css/, 'icon.svg': /^image\/svg\+xml/ };
  for (const [f, re] of Object.entries(types)) {
    const x = await rawGet('/console/' + f);
    assert.equal(x.status, 200, f);
    assert.match(x.headers['content-type'], re, f);
    assert.ok(x.headers['content-security-policy'], f);
  }
  assert.equal((await rawGet('/console')).status, 301);
  for (const p of ['/console/../vidgate.db', '/console/..%2fvidgate.db', '/console/%2e%2e/vidgate.db',
    '/console/%2e%2e%2fvidgate.db', '/console/..', '/console/%2e%2e', '/console/.%2e/secret',
    '/console/../../../../etc/passwd', '/console/..%5cvidgate.db', '/console/vidgate.db',
    '/console/admin.key', '/console/secret', '/console/app.js%00.png', '/console/.index.html',
    '/console/sub/app.js']) {
    const x = await rawGet(p);
    assert.equal(x.status, 404, p);
    assert.ok(!x.body.includes('SQLite format'), p);
    // One segment after /console/ is the console's route, and even its 404 carries the headers;
    // deeper paths match no route at all (the API's 404).
    if (!p.slice('/console/'.length).includes('/'))
      assert.ok(x.headers['content-security-policy'], 'CSP on the 404 of ' + p);
  }
});

// ---- a caller -----------------------------------------------------------------------------
async function signIn(key) {
  const page = srv.page;
  await page.goto(srv.base + '/console/', { waitUntil: 'load' });
  await page.waitForSelector('#signin-key', { visible: true });
  await page.type('#signin-key', key);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#nav a', { visible: true });
}

async function signOut() {
  await srv.page.click('#signout');
  await srv.page.waitForSelector('#signin-key', { visible: true });
}

/** Waits until the <video> matched by sel has a duration and its currentTime moves. */
async function assertPlays(sel) {
  const page = srv.page;
  await page.waitForFunction((s) => {
    const v = document.querySelector(s);
    return v && !v.hidden && v.readyState >= 2 && v.duration > 0;
  }, { timeout: WAIT }, sel);
  await page.evaluate((s) => document.querySelector(s).play().catch(() => {}), sel);
  const t0 = await page.evaluate((s) => document.querySelector(s).currentTime, sel);
  await page.waitForFunction((s, t) => {
    const v = document.querySelector(s);
    return v.currentTime > t || v.ended;
  }, { timeout: 30000 }, sel, t0);
  const v = await page.evaluate((s) => {
    const e = document.querySelector(s);
    return { duration: e.duration, currentTime: e.currentTime, error: e.error && e.error.code };
  }, sel);
  assert.ok(v.duration > 0, 'duration ' + v.duration);
  assert.equal(v.error, null);
  return v;
}

/** Follows a task through the API (long-poll) until it is completed. */
async function waitCompleted(id) {
  let t = await api('GET', '/v1/video/generations/' + id, srv.userKey);
  while (t.status !== 'completed') {
    assert.ok(!['failed', 'cancelled'].includes(t.status), JSON.stringify(t));
    t = await api('GET', `/v1/video/generations/${id}?wait=20&since=${t.status}`, srv.userKey);
  }
}

test('a user key: submit with a first frame, watch it complete, play it; HTML prompts stay text', async () => {
  const page = srv.page;
  await signIn(srv.userKey);
  assert.equal(await page.evaluate(() => document.body.dataset.role), 'user');
  const storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('vidgate.key'), local: localStorage.length, cookie: document.cookie }));
  assert.equal(storage.session, srv.userKey);
  assert.equal(storage.local, 0);
  assert.equal(storage.cookie, '');
  // a text-only task through the API meanwhile, so the gallery shows more than the console's own
  const side = await api('POST', '/v1/video/generations', srv.userKey, {
    model: 'doubao-seedance-2-0-mini', prompt: 'lanterns drifting over a quiet harbour at night',
    seconds: '4', metadata: { resolution: '480p', ratio: '16:9' } });

  // a task with a first-frame image, followed live
  await page.goto(srv.base + '/console/#submit');
  await page.waitForSelector('#submit-model option');
  await page.type('#submit-prompt', 'slow push in over a warm evening sky');
  await page.select('#submit-model', 'doubao-seedance-2-0-fast');
  await page.select('#submit-resolution', '480p');
  await page.select('#submit-ratio', '16:9');
  await page.$eval('#submit-seconds', (e) => (e.value = '4'));
  const input = await page.$('#submit-image');
  await input.uploadFile(srv.imagePath);
  await page.waitForSelector('#submit-preview:not([hidden])');
  await page.click('#submit-go');
  await page.waitForSelector('#submit-live:not([hidden])');
  const id = await page.$eval('#live-id', (e) => e.textContent);
  assert.match(id, /^task_/);
  await page.waitForFunction(() => document.querySelector('#live-status').textContent === 'completed', { timeout: WAIT });
  const live = await assertPlays('#live-video');
  const task = await api('GET', '/v1/video/generations/' + id, srv.userKey);
  assert.equal(task.status, 'completed');
  assert.equal(task.size, '864x496');
  await shot('console-submit');

  // an HTML prompt
  await page.$eval('#submit-prompt', (e) => (e.value = ''));
  await page.type('#submit-prompt', XSS);
  await page.$eval('#submit-image', (e) => (e.value = ''));
  await page.click('#submit-go');
  await page.waitForFunction((old) => document.querySelector('#live-id').textContent !== old, {}, id);
  const xssId = await page.$eval('#live-id', (e) => e.textContent);
  await waitCompleted(xssId);
  await page.waitForFunction(() => document.querySelector('#live-status').textContent === 'completed', { timeout: WAIT });

  // the gallery, once the side task is done too
  await waitCompleted(side.id);
  await page.goto(srv.base + '/console/#gallery');
  await page.waitForSelector(`article.task[data-id="${xssId}"] .prompt`);
  await page.waitForFunction((i, x) => document.querySelector(`article.task[data-id="${i}"] .prompt`).textContent === x,
    {}, xssId, XSS);
  const inject = await page.evaluate(() => ({
    imgs: [...document.querySelectorAll('#gallery img')].filter((i) => i.getAttribute('src') === 'x').length,
    thumbs: document.querySelectorAll('#gallery img.thumb').length,
  }));
  assert.equal(inject.imgs, 0, 'the prompt was parsed as HTML');
  await page.waitForFunction(() => [...document.querySelectorAll('#gallery img.thumb')].every((i) => i.complete && i.naturalWidth > 0));
  await shot('console-gallery');
  // click → the player
  await page.click(`article.task[data-id="${id}"]`);
  await page.waitForSelector('#player[open]');
  const played = await assertPlays('#player-video');
  assert.ok(played.duration > 3, 'a 4 s clip, got ' + played.duration);
  await shot('console-player');
  await page.click('#player-close');
  // the status filter
  await page.select('#gallery-status', 'failed');
  await page.waitForFunction(() => !document.querySelector('#gallery article.task'));
  await page.select('#gallery-status', 'completed');
  await page.waitForSelector('#gallery article.task');

  // money and assets
  await page.goto(srv.base + '/console/#account');
  await page.waitForSelector('#account-ledger tr[data-kind="capture"]');
  await page.waitForSelector('#stat-balance');
  await shot('console-account');
  await page.goto(srv.base + '/console/#assets');
  await page.waitForSelector('#assets-body tr');
  assert.deepEqual(seen.dialogs, [], 'a dialog fired');
  assert.ok(live.duration > 0);
  await signOut();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('vidgate.key')), null);
});

// ---- the operator -------------------------------------------------------------------------
test('the admin key: credit a key and see the ledger row, usage chart with today, channels, tasks', async () => {
  const page = srv.page;
  await signIn(srv.adminKey);
  assert.equal(await page.evaluate(() => document.body.dataset.role), 'admin');
  await page.goto(srv.base + '/console/#keys');
  await page.waitForSelector(`#keys-body tr[data-id="${srv.userId}"] button.manage`);
  await page.click(`#keys-body tr[data-id="${srv.userId}"] button.manage`);
  await page.waitForSelector('#key-detail:not([hidden]) #kd-ledger tr');
  await page.type('#kd-money input[name=amount]', '5.00');
  await page.type('#kd-money input[name=note]', 'invoice 42 <b>paid</b>');
  await page.click('#kd-money button[value=credit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#kd-ledger tr[data-kind="credit"]')]
    .some((r) => r.textContent.includes('invoice 42 <b>paid</b>') && r.textContent.includes('5.00')));
  const me = await api('GET', '/v1/me', srv.userKey);
  const ledger = await api('GET', '/v1/me/ledger?limit=1', srv.userKey);
  assert.equal(ledger.data[0].kind, 'credit');
  assert.equal(ledger.data[0].note, 'invoice 42 <b>paid</b>');
  assert.ok(Number(me.balance) > 29, 'balance ' + me.balance);
  await shot('console-keys');

  const today = new Date().toISOString().slice(0, 10);
  await page.goto(srv.base + '/console/#usage');
  await page.waitForSelector(`#usage-chart rect.bar[data-day="${today}"]`);
  const bar = await page.$eval(`#usage-chart rect.bar[data-day="${today}"]`, (r) => ({
    cost: Number(r.dataset.cost), tasks: Number(r.dataset.tasks), height: Number(r.getAttribute('height')) }));
  assert.ok(bar.cost > 0, 'today costs something');
  assert.equal(bar.tasks, 3);
  assert.ok(bar.height > 0, 'today has a bar');
  await page.waitForSelector('#usage-model tr');
  await page.waitForSelector('#usage-key tr');
  await shot('console-usage');

  await page.goto(srv.base + '/console/#channels');
  await page.waitForSelector('#channels-body tr[data-name="local"]');
  await shot('console-channels');
  await page.goto(srv.base + '/console/#tasks');
  await page.waitForSelector('#tasks-body tr');
  assert.equal(await page.$$eval('#tasks-body tr', (r) => r.length), 3);
  await page.select('#tasks-filter select[name=status]', 'failed');
  await page.click('#tasks-filter button');
  await page.waitForFunction(() => !document.querySelector('#tasks-body tr'));
  await page.select('#tasks-filter select[name=status]', '');
  await page.click('#tasks-filter button');
  await page.waitForSelector('#tasks-body tr');
  await shot('console-tasks');
  await signOut();
  assert.deepEqual(seen.dialogs, [], 'a dialog fired');
  assert.deepEqual(seen.problems, [], 'errors or CSP violations in the browser console');
});
