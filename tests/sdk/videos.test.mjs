// videos.test.mjs - the official OpenAI Node SDK (client.videos) against a real vidgated.
//
// Starts $VG_BUILD/vidgated (default: build) on a free loopback port with a temporary data
// directory, creates a user key with the admin key, then drives create (plain and with an
// uploaded input_reference made with the SDK's toFile), retrieve until completed, list paging,
// downloadContent (checked with tests/vg-probe: h264 864x496), delete, and the SDK's error
// classes for 400 / 401 / 404. A sanitizer report or an ERROR line in the server log fails it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import OpenAI, { toFile } from 'openai';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BUILD = path.resolve(ROOT, process.env.VG_BUILD || 'build');
const FAST = 'doubao-seedance-2-0-fast';
const SMALL = { model: FAST, seconds: '4', size: '864x496' };
const BAD_LOG = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];

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

/** An RGB PNG with a gradient and a checker pattern, so the render has texture to move. */
function pngBytes(w, h) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      const check = ((x >> 4) + (y >> 4)) % 2 ? 40 : 0;
      raw[row + 1 + x * 3] = ((x * 200) / w + check) & 0xff;
      raw[row + 2 + x * 3] = ((y * 200) / h + check) & 0xff;
      raw[row + 3 + x * 3] = 90;
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

// ---- the server ---------------------------------------------------------------------------
const srv = {};

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

function serverLog() {
  try {
    return readFileSync(srv.logPath, 'utf8');
  } catch {
    return '';
  }
}

before(async () => {
  srv.data = mkdtempSync(path.join(os.tmpdir(), 'vg-sdk-'));
  srv.port = await freePort();
  srv.base = `http://127.0.0.1:${srv.port}`;
  srv.adminKey = 'sk-admin-' + Math.random().toString(36).slice(2) + Date.now().toString(36);
  srv.logPath = path.join(srv.data, 'server.log');
  const log = openSync(srv.logPath, 'w');
  srv.proc = spawn(
    path.join(BUILD, 'vidgated'),
    ['--listen', `127.0.0.1:${srv.port}`, '--data', srv.data],
    {
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
    },
  );
  srv.exited = new Promise((resolve) => srv.proc.on('exit', (code, sig) => resolve({ code, sig })));
  await waitReady(srv.base, Date.now() + 20000);
  const r = await fetch(srv.base + '/admin/keys', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + srv.adminKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'sdk', balance: '100.00' }),
  });
  assert.equal(r.status, 201);
  srv.key = (await r.json()).key;
  srv.client = new OpenAI({ apiKey: srv.key, baseURL: srv.base + '/v1', maxRetries: 0 });
});

after(async () => {
  if (!srv.proc) return;
  // Close the client's idle keep-alive connections first, as a client shutting down would.
  // (vidgated currently aborts in h2o_timeout_dispose when SIGTERM finds an idle keep-alive
  // connection still open; that is a server shutdown bug of its own, not an SDK matter.)
  const dispatcher = globalThis[Symbol.for('undici.globalDispatcher.1')];
  if (dispatcher) await dispatcher.close();
  await sleep(300); // and let the server see those connections close
  srv.proc.kill('SIGTERM');
  const { code, sig } = await Promise.race([
    srv.exited,
    sleep(30000).then(() => ({ code: 'timeout' })),
  ]);
  if (code === 'timeout') srv.proc.kill('SIGKILL');
  const text = serverLog();
  const keep = process.env.VG_SDK_KEEP_DATA === '1';
  if (!keep) rmSync(srv.data, { recursive: true, force: true });
  for (const m of BAD_LOG) assert.ok(!text.includes(m), 'sanitizer report in the server log:\n' + text.slice(-6000));
  const errors = text.split('\n').filter((l) => l.includes(' ERROR '));
  assert.deepEqual(errors, [], 'unexpected errors in the server log');
  assert.ok(code === 0 || sig === 'SIGTERM', `vidgated exited with ${code ?? sig}`);
});

async function waitCompleted(id, timeoutMs = 180000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await srv.client.videos.retrieve(id);
    if (v.status === 'completed' || v.status === 'failed') return v;
    await sleep(200);
  }
  throw new Error(`video ${id} did not finish`);
}

// ---- the tests (run in order; later ones use the videos of earlier ones) -------------------
const made = [];

test('videos.create without a reference', async () => {
  const v = await srv.client.videos.create({ ...SMALL, prompt: 'a paper boat on a pond' });
  assert.equal(v.object, 'video');
  assert.equal(v.status, 'queued');
  assert.equal(v.model, FAST);
  assert.equal(v.seconds, '4');
  assert.equal(v.size, '864x496');
  assert.equal(v.prompt, 'a paper boat on a pond');
  assert.match(v.id, /^task_[0-9A-HJKMNP-TV-Z]{26}$/);
  made.push(v.id);
});

test('videos.create with an uploaded input_reference (toFile)', async () => {
  // Once with the type, once without: the server then tells PNG from its signature.
  const withType = await toFile(pngBytes(640, 360), 'frame.png', { type: 'image/png' });
  const a = await srv.client.videos.create({
    ...SMALL,
    prompt: 'the first frame comes to life',
    input_reference: withType,
  });
  assert.equal(a.status, 'queued');
  assert.equal(a.size, '864x496');
  made.push(a.id);
  const noType = await toFile(pngBytes(360, 640), 'portrait');
  const b = await srv.client.videos.create({
    model: FAST,
    seconds: '4',
    prompt: 'portrait frame, adaptive ratio',
    input_reference: noType,
    metadata: { resolution: '480p' },
  });
  assert.equal(b.size, '496x864'); // the ratio followed the uploaded frame
  made.push(b.id);
});

test('videos.retrieve until completed', async () => {
  for (const id of made) {
    const v = await waitCompleted(id);
    assert.equal(v.status, 'completed', JSON.stringify(v));
    assert.equal(v.progress, 100);
    assert.equal(typeof v.completed_at, 'number');
    assert.match(v.metadata.url, new RegExp(`/files/${id}/video\\?expires=`));
    assert.ok(v.usage.completion_tokens > 0);
  }
});

test('videos.list pages through more than one page', async () => {
  const first = await srv.client.videos.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(first.has_more, true);
  assert.ok(first.hasNextPage());
  const second = await first.getNextPage();
  assert.ok(second.data.length >= 1);
  const seen = [];
  for await (const v of srv.client.videos.list({ limit: 2 })) seen.push(v.id);
  assert.deepEqual([...seen].sort().reverse(), seen, 'newest first');
  for (const id of made) assert.ok(seen.includes(id), `${id} listed`);
  assert.equal(new Set(seen).size, seen.length, 'no video twice');
  const asc = [];
  for await (const v of srv.client.videos.list({ limit: 2, order: 'asc' })) asc.push(v.id);
  assert.deepEqual(asc, [...seen].reverse());
});

test('videos.downloadContent gives a playable MP4', async () => {
  const resp = await srv.client.videos.downloadContent(made[0]);
  assert.equal(resp.headers.get('content-type'), 'video/mp4');
  const file = path.join(srv.data, 'download.mp4');
  writeFileSync(file, Buffer.from(await resp.arrayBuffer()));
  const out = execFileSync(path.join(BUILD, 'tests', 'vg-probe'), ['info', file], { encoding: 'utf8' });
  const info = JSON.parse(out.trim().split('\n').pop());
  assert.equal(info.codec, 'h264');
  assert.equal(info.width, 864);
  assert.equal(info.height, 496);
  assert.equal(info.frames, 24 * 4 + 1);
  const thumb = await srv.client.videos.downloadContent(made[0], { variant: 'thumbnail' });
  assert.match(thumb.headers.get('content-type'), /^image\//);
  assert.ok((await thumb.arrayBuffer()).byteLength > 0);
});

test('videos.delete removes a finished video', async () => {
  const d = await srv.client.videos.delete(made[0]);
  assert.deepEqual(d, { id: made[0], object: 'video.deleted', deleted: true });
  await assert.rejects(srv.client.videos.downloadContent(made[0]), (e) => {
    assert.equal(e.status, 410);
    assert.equal(e.code, 'video_deleted');
    return true;
  });
});

test('errors raise the SDK error classes', async () => {
  await assert.rejects(
    srv.client.videos.create({ ...SMALL, size: '1000x1000', prompt: 'bad size' }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_resolution');
      assert.equal(e.param, 'size');
      return true;
    },
  );
  await assert.rejects(srv.client.videos.remix(made[1], { prompt: 'again' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.code, 'unsupported');
    return true;
  });
  const stranger = new OpenAI({ apiKey: 'sk-not-a-key', baseURL: srv.base + '/v1', maxRetries: 0 });
  await assert.rejects(stranger.videos.retrieve(made[1]), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, e.constructor.name);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    return true;
  });
  await assert.rejects(srv.client.videos.retrieve('task_00000000000000000000000000'), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'task_not_found');
    return true;
  });
});

test('models.list reads the model table', async () => {
  const ids = [];
  for await (const m of srv.client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['doubao-seedance-2-0', FAST, 'doubao-seedance-2-0-mini']);
  const m = await srv.client.models.retrieve(FAST);
  assert.equal(m.id, FAST);
});
