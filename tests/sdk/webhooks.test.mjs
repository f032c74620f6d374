// webhooks.test.mjs - vidgate's webhooks verified by the official OpenAI Node SDK
// (client.webhooks.unwrap, the Standard Webhooks check).
//
// Starts $VG_BUILD/vidgated on a free loopback port (http and private destinations allowed, a
// 100 ms backoff base, three delivery workers) and a receiver on loopback, then checks: a completed
// task's event is verified by unwrap() with the key's secret and a tampered copy (body or
// signature) is rejected; a receiver answering 500 twice then 200 gets three attempts with the
// same webhook-id and gaps of at least the backoff schedule; two receivers that never answer do not delay another
// delivery. Failed tasks (a first frame that cannot be fetched) make events without a render.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BUILD = path.resolve(ROOT, process.env.VG_BUILD || 'build');
const BAD_LOG = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const srv = {};
const rx = { hits: [], flaky: 0, held: [] };

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

function serverLog() {
  try {
    return readFileSync(srv.logPath, 'utf8');
  } catch {
    return '';
  }
}

async function api(method, p, body, key = srv.key) {
  const r = await fetch(srv.base + p, {
    method,
    headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json() };
}

// The receiver: /never holds the request open, /flaky answers 500 twice then 200, the rest 200.
function startReceiver() {
  return new Promise((resolve) => {
    rx.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const hit = { path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
        rx.hits.push(hit);
        if (req.url.startsWith('/never')) return rx.held.push(res);
        let code = 200;
        if (req.url === '/flaky') code = ++rx.flaky <= 2 ? 500 : 200;
        res.writeHead(code, { 'Content-Length': '0' }).end();
      });
    });
    rx.server.listen(0, '127.0.0.1', () => {
      rx.url = `http://127.0.0.1:${rx.server.address().port}`;
      resolve();
    });
  });
}

async function waitHits(pred, n = 1, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = rx.hits.filter(pred);
    if (got.length >= n) return got;
    await sleep(20);
  }
  throw new Error('deliveries missing: ' + JSON.stringify(rx.hits.map((h) => h.path)));
}

async function waitFinal(id) {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const { json } = await api('GET', '/v1/video/generations/' + id);
    if (['completed', 'failed', 'cancelled'].includes(json.status)) return json;
    await sleep(50);
  }
  throw new Error(`task ${id} did not finish`);
}

// A task that fails at once: its first frame is a 404 on the receiver.
async function failingTask(callbackPath) {
  const { status, json } = await api('POST', '/v1/video/generations', {
    model: 'doubao-seedance-2-0-fast',
    prompt: 'a webhook test',
    seconds: '4',
    images: [rx.url + '/missing.png'],
    callback_url: rx.url + callbackPath,
  });
  assert.equal(status, 200, JSON.stringify(json));
  return json.id;
}

before(async () => {
  await startReceiver();
  srv.data = mkdtempSync(path.join(os.tmpdir(), 'vg-sdk-wh-'));
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
      VIDGATE_ALLOW_HTTP_FETCH: '1',
      VIDGATE_ALLOW_PRIVATE_FETCH: '1',
      VIDGATE_WEBHOOK_BACKOFF_MS: '100',
      VIDGATE_WEBHOOK_WORKERS: '3',
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=23',
      LSAN_OPTIONS: 'print_suppressions=0:suppressions=' + path.join(ROOT, 'tests', 'lsan.supp'),
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    },
  });
  srv.exited = new Promise((resolve) => srv.proc.on('exit', (code, sig) => resolve({ code, sig })));
  const deadline = Date.now() + 20000;
  for (;;) {
    if (srv.proc.exitCode !== null) throw new Error('vidgated exited at start:\n' + serverLog());
    try {
      if ((await fetch(srv.base + '/readyz')).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('vidgated did not become ready:\n' + serverLog());
    await sleep(50);
  }
  const r = await api('POST', '/admin/keys', { name: 'hooks', balance: '100.00' }, srv.adminKey);
  assert.equal(r.status, 201);
  srv.key = r.json.key;
  srv.secret = (await api('GET', '/v1/me/webhook-secret')).json.secret;
  assert.match(srv.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  // No API key of OpenAI's is used: the client only verifies.
  srv.client = new OpenAI({ apiKey: 'unused', baseURL: srv.base + '/v1', maxRetries: 0 });
});

after(async () => {
  for (const res of rx.held) res.destroy();
  rx.server?.close();
  if (!srv.proc) return;
  const dispatcher = globalThis[Symbol.for('undici.globalDispatcher.1')];
  if (dispatcher) await dispatcher.close();
  await sleep(300);
  srv.proc.kill('SIGTERM');
  const { code, sig } = await Promise.race([srv.exited, sleep(30000).then(() => ({ code: 'timeout' }))]);
  if (code === 'timeout') srv.proc.kill('SIGKILL');
  const text = serverLog();
  if (process.env.VG_SDK_KEEP_DATA !== '1') rmSync(srv.data, { recursive: true, force: true });
  for (const m of BAD_LOG) assert.ok(!text.includes(m), 'sanitizer report in the server log:\n' + text.slice(-6000));
  const errors = text.split('\n').filter((l) => l.includes(' ERROR '));
  assert.deepEqual(errors, [], 'unexpected errors in the server log');
  assert.ok(code === 0 || sig === 'SIGTERM', `vidgated exited with ${code ?? sig}`);
});

test('a completed task: webhooks.unwrap verifies the delivery, a tampered one is rejected', async () => {
  const { status, json } = await api('POST', '/v1/video/generations', {
    model: 'doubao-seedance-2-0-fast',
    prompt: 'a paper boat on a pond',
    seconds: '4',
    metadata: { resolution: '480p', ratio: '16:9' },
    callback_url: rx.url + '/ok',
  });
  assert.equal(status, 200);
  const t = await waitFinal(json.id);
  assert.equal(t.status, 'completed');
  const [hit] = await waitHits((h) => h.path === '/ok');
  const ev = await srv.client.webhooks.unwrap(hit.body, hit.headers, srv.secret);
  assert.equal(ev.object, 'event');
  assert.equal(ev.type, 'video.completed');
  assert.equal(ev.id, hit.headers['webhook-id']);
  assert.match(ev.id, /^evt_/);
  assert.equal(ev.data.id, json.id);
  assert.equal(ev.data.status, 'completed');
  assert.ok(ev.data.output.video_url);
  assert.ok(Math.abs(Number(hit.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
  // Tampering with the body, the id, the signature or the secret is caught.
  const tampered = hit.body.replace('"completed"', '"failed"');
  await assert.rejects(srv.client.webhooks.unwrap(tampered, hit.headers, srv.secret));
  await assert.rejects(
    srv.client.webhooks.unwrap(hit.body, { ...hit.headers, 'webhook-id': 'evt_other' }, srv.secret),
  );
  const sig = hit.headers['webhook-signature'];
  const flipped = sig.slice(0, -3) + (sig.at(-3) === 'A' ? 'B' : 'A') + sig.slice(-2);
  await assert.rejects(srv.client.webhooks.unwrap(hit.body, { ...hit.headers, 'webhook-signature': flipped }, srv.secret));
  const other = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
  await assert.rejects(srv.client.webhooks.unwrap(hit.body, hit.headers, other));
});

test('500, 500, 200: three attempts, one webhook-id, growing gaps, each verifiable', async () => {
  const id = await failingTask('/flaky');
  const hits = await waitHits((h) => h.path === '/flaky', 3);
  assert.equal(hits.length, 3);
  assert.equal(new Set(hits.map((h) => h.headers['webhook-id'])).size, 1);
  for (const h of hits) {
    const ev = await srv.client.webhooks.unwrap(h.body, h.headers, srv.secret);
    assert.equal(ev.type, 'video.failed');
    assert.equal(ev.data.id, id);
  }
  const gap1 = hits[1].at - hits[0].at;
  const gap2 = hits[2].at - hits[1].at;
  // Lower bounds only (a busy machine may deliver late, never early): the first retry waits at
  // least the 100 ms base, the second at least twice that (the schedule itself is unit-tested).
  assert.ok(gap1 >= 90 && gap2 >= 180, `gaps ${gap1} ms then ${gap2} ms`);
  let w;
  for (let i = 0; i < 100; i++) {
    w = (await api('GET', '/v1/video/generations/' + id)).json.webhook;
    if (w.status === 'delivered') break;
    await sleep(20);
  }
  assert.equal(w.status, 'delivered');
  assert.equal(w.attempts, 3);
  await sleep(500); // no fourth attempt
  assert.equal(rx.hits.filter((h) => h.path === '/flaky').length, 3);
});

test('receivers that never answer do not slow the other deliveries', async () => {
  const stuck = [await failingTask('/never/1'), await failingTask('/never/2')];
  for (const id of stuck) await waitFinal(id);
  await waitHits((h) => h.path.startsWith('/never'), 2, 10000);
  const id = await failingTask('/fast');
  const t = await waitFinal(id);
  const doneAt = Date.now();
  const [hit] = await waitHits((h) => h.path === '/fast', 1, 8000);
  const late = hit.at - doneAt;
  assert.ok(late < 2000, `delivered ${late} ms after the task ended (the timeout is 10 s)`);
  await srv.client.webhooks.unwrap(hit.body, hit.headers, srv.secret);
  assert.equal(t.status, 'failed');
  const w = (await api('GET', '/v1/video/generations/' + stuck[0])).json.webhook;
  assert.equal(w.status, 'pending');
});
