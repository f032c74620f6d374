"""Hardening of stored media, each reproduced over loopback with bounded sizes:

- Inline images (a `data:` URL of a native submit, an `input_reference` upload of the OpenAI route)
  were kept whole in the task row and read back by every GET and list: five 12 MB images grew the
  database by 80 MB and `GET /v1/videos?limit=100` took 1.5 s. They are now content files named by
  their hash (the row keeps `asset://inline?sha256=…`), written off the event loop and flushed
  before the task commits, so a task that got its 200 survives `kill -9`.
- Assets had no quota (a key with balance 0 stored three 12 MB assets): `asset_quota_bytes` bounds
  the bytes of each key's live assets (403 QuotaExceeded).

Each test prints the figure it measures."""
import base64
import hashlib
import json
import os
import struct
import subprocess
import threading
import time
import unittest
import zlib

import harness
from harness import Server
from images import png_bytes
from test_assets import serve_files, Files
from test_openai import multipart

FAST = "doubao-seedance-2-0-fast"
A = "/v1/seedance/asset/"


def figure(name, value):
    print("\n  FIGURE %s: %s" % (name, value), flush=True)


def _chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def noise_png(w, h):
    """A w x h RGB PNG of random pixels, stored without compression: about 3·w·h bytes that no
    compressor shrinks, and still a picture any decoder reads."""
    raw = b"".join(b"\x00" + os.urandom(3 * w) for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(raw, 0)) + _chunk(b"IEND", b""))


def db_bytes(srv):
    """The database's size on disk: the SQLite file and its WAL, or PostgreSQL's database."""
    if harness.store_args(srv.data):
        return int(srv.sql("SELECT pg_database_size(current_database())")[0][0])
    total = 0
    for name in ("vidgate.db", "vidgate.db-wal"):
        try:
            total += os.path.getsize(os.path.join(srv.data, name))
        except OSError:
            pass
    return total


def stored_params(srv, task_id):
    return srv.sql("SELECT params FROM tasks WHERE id = ?", (task_id,))[0][0]


def blob(data_dir, sha):
    return os.path.join(data_dir, "files", "assets", sha)


class InlineMediaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("inline", "1000.00")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def upload(self, png, **fields):
        f = [("model", FAST), ("prompt", "slow push in"), ("seconds", "4"), ("size", "864x496")]
        f += list(fields.items())
        body, ctype = multipart(f, [("input_reference", "big.png", "image/png", png)])
        return self.srv.api("POST", "/v1/videos", key=self.key, raw_body=body,
                            headers={"Content-Type": ctype})

    def check_row(self, task_id, png):
        params = stored_params(self.srv, task_id)
        sha = hashlib.sha256(png).hexdigest()
        self.assertLess(len(params), 4000, params[:300])
        self.assertNotIn("base64", params)
        self.assertIn("asset://inline?sha256=" + sha, params)
        with open(blob(self.srv.data, sha), "rb") as f:
            self.assertEqual(f.read(), png)
        return sha

    def test_big_uploads_stay_out_of_the_task_rows(self):
        pngs = [noise_png(1448, 1448) for _ in range(4)]  # ~6.3 MB each
        before = db_bytes(self.srv)
        ids = []
        for png in pngs:
            st, _, j = self.upload(png)
            self.assertEqual(st, 200, j)
            ids.append(j["id"])
        grown = db_bytes(self.srv) - before
        sent = sum(len(p) for p in pngs)
        figure("database growth for four inline images", "%d bytes for %d bytes of images"
               % (grown, sent))
        self.assertLess(grown, sent // 20)
        for tid, png in zip(ids, pngs):
            self.check_row(tid, png)
        r = self.srv.request("GET", "/v1/videos?limit=100", key=self.key)
        self.assertEqual(r.status, 200)
        figure("GET /v1/videos?limit=100 body", "%d bytes" % len(r.body))
        self.assertLess(len(r.body), 64 * 1024)
        self.assertNotIn(b"base64", r.body)
        for tid in ids:
            for path in ("/v1/videos/" + tid, "/v1/video/generations/" + tid):
                r = self.srv.request("GET", path, key=self.key)
                self.assertEqual(r.status, 200)
                self.assertLess(len(r.body), 8 * 1024)
                self.assertNotIn(b"base64", r.body)
        for tid in ids:
            t = self.srv.wait_task(tid, self.key, timeout=180)
            self.assertEqual(t["status"], "completed", t)

    def test_native_data_url_renders_from_the_stored_file(self):
        png = png_bytes(640, 360)
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        st, _, j = self.srv.submit(self.key, metadata={"resolution": "480p", "ratio": "adaptive",
                                                       "content": [{"type": "image_url",
                                                                    "image_url": {"url": url},
                                                                    "role": "first_frame"}]})
        self.assertEqual(st, 200, j)
        self.check_row(j["id"], png)
        t = self.srv.wait_task(j["id"], self.key)
        self.assertEqual((t["status"], t["ratio"]), ("completed", "16:9"), t)
        # the same image again: one file, both tasks name it
        st, _, j2 = self.srv.submit(self.key, images=[url])
        self.assertEqual(st, 200, j2)
        self.assertEqual(self.check_row(j2["id"], png), hashlib.sha256(png).hexdigest())
        self.assertEqual(self.srv.wait_task(j2["id"], self.key)["status"], "completed")

    def test_bad_inline_media_are_400_naming_the_field(self):
        big = noise_png(300, 300)  # > 64 KiB of base64: judged off the loop
        bad = "data:image/png;base64," + base64.b64encode(big).decode()[:-3] + "@@@"
        st, _, j = self.srv.submit(self.key, images=[bad])
        self.assertEqual((st, j["error"]["code"], j["error"]["param"]),
                         (400, "invalid_image", "images[0]"), j)
        junk = "data:image/png;base64," + base64.b64encode(os.urandom(100000)).decode()
        st, _, j = self.srv.submit(self.key, metadata={"resolution": "480p", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"},
             "role": "reference_image"},
            {"type": "image_url", "image_url": {"url": junk}, "role": "reference_image"}]})
        self.assertEqual((st, j["error"]["code"], j["error"]["param"]),
                         (400, "invalid_image", "metadata.content[1].image_url.url"), j)
        # a client cannot name inline content itself
        sha = hashlib.sha256(big).hexdigest()
        st, _, j = self.srv.submit(self.key, metadata={"resolution": "480p", "content": [
            {"type": "image_url", "image_url": {"url": "asset://inline?sha256=" + sha},
             "role": "first_frame"}]})
        self.assertEqual(st, 400, j)

    def test_loop_answers_while_big_uploads_arrive(self):
        srv = Server(env={"VIDGATE_THREADS": "1"})
        try:
            _, key = srv.new_key("uploader", "1000.00")
            png = noise_png(2000, 2000)  # 12 MB
            body, ctype = multipart([("model", FAST), ("prompt", "p"), ("size", "864x496")],
                                    [("input_reference", "a.png", "image/png", png)])
            stop, statuses, health = threading.Event(), [], []

            def send():
                while not stop.is_set():
                    statuses.append(srv.api("POST", "/v1/videos", key=key, raw_body=body,
                                            headers={"Content-Type": ctype})[0])

            t = threading.Thread(target=send)
            t.start()
            try:
                for _ in range(20):
                    t0 = time.time()
                    health.append((srv.request("GET", "/healthz", timeout=10).status,
                                   time.time() - t0))
                    time.sleep(0.05)
            finally:
                stop.set()
                t.join()
            figure("/healthz while 12 MB uploads arrive (one loop)", "%d uploads, max %.3f s, "
                   "median %.3f s" % (len(statuses), max(h[1] for h in health),
                                      sorted(h[1] for h in health)[10]))
            self.assertEqual(set(statuses), {200})
            self.assertEqual({h[0] for h in health}, {200})
        finally:
            srv.close()


class InlineCrashTest(unittest.TestCase):
    def test_kill9_right_after_the_reply_then_the_task_completes(self):
        srv = Server()
        try:
            _, key = srv.new_key("crash", "100.00")
            ids = []
            for i in range(3):
                png = noise_png(1200, 900)
                body, ctype = multipart([("model", FAST), ("prompt", "p"), ("seconds", "4"),
                                         ("size", "864x496")],
                                        [("input_reference", "a.png", "image/png", png)])
                st, _, j = srv.api("POST", "/v1/videos", key=key, raw_body=body,
                                   headers={"Content-Type": ctype})
                self.assertEqual(st, 200, j)
                srv.kill9()  # at once: the reply was the last thing the server did for it
                ids.append((j["id"], png))
                srv.start()
            for tid, png in ids:
                t = srv.wait_task(tid, key, timeout=180)
                self.assertEqual(t["status"], "completed", t)
                sha = hashlib.sha256(png).hexdigest()
                self.assertIn(sha, stored_params(srv, tid))
            figure("tasks completed after kill -9 right after their 200", "%d of %d"
                   % (len(ids), len(ids)))
        finally:
            srv.close()

    def test_orphan_content_is_removed_at_start(self):
        srv = Server()
        try:
            d = os.path.join(srv.data, "files", "assets")
            orphan = os.path.join(d, "ab" * 32)
            with open(orphan, "wb") as f:
                f.write(b"left by a crash between a write and its commit")
            srv.stop()
            srv.start()
            self.assertFalse(os.path.exists(orphan))
        finally:
            srv.close()


class AssetQuotaTest(unittest.TestCase):
    QUOTA = 3000000

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env={"VIDGATE_ASSET_QUOTA_BYTES": str(cls.QUOTA),
                              "VIDGATE_ALLOW_HTTP_FETCH": "1",
                              "VIDGATE_ALLOW_PRIVATE_FETCH": "1"})
        cls.httpd = serve_files()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.srv.close()

    def call(self, key, action, body):
        st, _, j = self.srv.api("POST", A + action, body, key=key)
        return st, j

    def create(self, key, png):
        return self.call(key, "CreateAsset", {"Name": "n", "Data": base64.b64encode(png).decode()})

    def wait_active(self, key, aid):
        deadline = time.time() + 30
        while time.time() < deadline:
            st, j = self.call(key, "GetAsset", {"Id": aid})
            if j["Result"]["Status"] != "Processing":
                return j["Result"]
            time.sleep(0.1)
        raise AssertionError("asset %s still Processing" % aid)

    def test_uploads_beyond_the_quota_are_refused(self):
        _, key = self.srv.new_key("broke", "0")
        png = noise_png(640, 640)  # ~1.23 MB
        ids = []
        statuses = []
        for _ in range(3):
            st, j = self.create(key, png)
            statuses.append(st)
            if st == 200:
                ids.append(j["Result"]["Id"])
        figure("three 1.23 MB uploads with a 3 MB quota", "statuses %s" % statuses)
        self.assertEqual(statuses, [200, 200, 403])
        self.assertEqual(j["ResponseMetadata"]["Error"]["Code"], "QuotaExceeded", j)
        self.assertNotIn("Result", j)
        for aid in ids:
            self.assertEqual(self.wait_active(key, aid)["Status"], "Active")
        # a URL cannot be sized before its fetch: refused only once the key is full
        Files.files["/q.png"] = png
        url = "http://127.0.0.1:%d/q.png" % self.httpd.server_address[1]
        st, j = self.call(key, "CreateAsset", {"Name": "u", "URL": url})
        self.assertEqual(st, 200, j)
        a = self.wait_active(key, j["Result"]["Id"])
        self.assertEqual((a["Status"], a["Error"]["Code"]), ("Failed", "QuotaExceeded"), a)
        # deleting frees the room
        self.assertEqual(self.call(key, "DeleteAsset", {"Id": ids[0]})[0], 200)
        st, j = self.create(key, png)
        self.assertEqual(st, 200, j)
        self.assertEqual(self.wait_active(key, j["Result"]["Id"])["Status"], "Active")
        # other keys have their own room
        _, other = self.srv.new_key("other", "0")
        self.assertEqual(self.create(other, png)[0], 200)

    def test_bad_data_is_still_400(self):
        _, key = self.srv.new_key("bad", "0")
        st, j = self.call(key, "CreateAsset", {"Name": "n", "Data": "@@@@" * 30000})
        self.assertEqual((st, j["ResponseMetadata"]["Error"]["Code"]), (400, "InvalidParameter"))

    def test_default_quota_is_one_gib(self):
        out = subprocess.run([harness.VIDGATED, "--print-config"], capture_output=True,
                                     text=True, timeout=30, env={"PATH": os.environ["PATH"]})
        self.assertIn("asset_quota_bytes", out.stdout + out.stderr)
        self.assertIn("1073741824", out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
