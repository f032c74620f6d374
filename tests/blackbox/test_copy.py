"""vidgated copy, black-box: a single node on SQLite (keys with credits and a debit, completed tasks
with results, a failed one refunded, a cancelled one, an asset, a delivered webhook) is stopped and
copied into a new PostgreSQL database and a bucket prefix; a node started on the target serves the
same balances, ledgers, task lists and task objects, the same result bytes, the asset (it renders
from it), with the old API keys; `vidgated check` is clean; a second copy to the same database is
refused, and the content copy alone can run again (it finds everything there).

Also, with any store: a copy from a data directory whose node still runs is refused before anything
else happens; and a copy that fails half-way (a row PostgreSQL refuses) leaves the target empty.

The PostgreSQL part is skipped unless VG_TEST_STORE=postgresql and VG_TEST_PG_URL name a test
cluster (scripts/pg-test-cluster); the bucket is s3rver, as in test_s3.py (skipped without it)."""
import base64
import hashlib
import http.server
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
from harness import VIDGATED, Server
from images import png_bytes
from test_s3 import CREDS, S3Server

OPEN = {"VIDGATE_ALLOW_HTTP_FETCH": "1", "VIDGATE_ALLOW_PRIVATE_FETCH": "1",
        "VIDGATE_RENDER_WORKERS": "1"}
A = "/v1/seedance/asset/"


class _Hooks(http.server.BaseHTTPRequestHandler):
    """Answers webhooks 200 and image fetches 404 (the failed task's missing first frame)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def run_copy(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([VIDGATED, "copy"] + list(args), capture_output=True, text=True,
                       timeout=300, env=e)
    for marker in harness.BAD_LOG_MARKERS:
        if marker in r.stderr:
            raise AssertionError("sanitizer report from vidgated copy:\n" + r.stderr[-6000:])
    return r.returncode, r.stdout, r.stderr


def sqlite_node(env=None, args=None):
    """A node on SQLite in its own data directory, whatever VG_TEST_STORE says."""
    data = tempfile.mkdtemp(prefix="vg-bb-copy-")
    os.chmod(data, 0o700)
    return Server(env=env, args=args, data_dir=data, database=os.path.join(data, "vidgate.db"))


def unhosted(v):
    """An API object with every URL cut to its path and query: the nodes' addresses differ. The
    signatures stay: the presigning secret moved with the store."""
    if isinstance(v, dict):
        return {k: unhosted(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unhosted(x) for x in v]
    if isinstance(v, str) and v.startswith(("http://", "https://")):
        u = urllib.parse.urlsplit(v)
        return u.path + ("?" + u.query if u.query else "")
    return v


class SourceInUse(unittest.TestCase):
    def test_refused_while_the_node_runs(self):
        srv = sqlite_node()
        try:
            srv.new_key("busy", "1.00")
            rc, out, err = run_copy("--from", srv.data, "--to", "postgresql://127.0.0.1:1/none")
            self.assertEqual(rc, 1, out + err)
            self.assertIn("is in use (process %d has it open)" % srv.proc.pid, err)
            self.assertIn("stop the vidgated", err)
            self.assertNotIn("store:", out)
        finally:
            srv.close()
            shutil.rmtree(srv.data, ignore_errors=True)

    def test_usage(self):
        rc, out, err = run_copy("--from", "/nonexistent")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--to", err)
        rc, out, err = run_copy("--from", "/nonexistent", "--to", "/not/a/url")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("must be a PostgreSQL database", err)


@unittest.skipUnless(harness.USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class AllOrNothing(unittest.TestCase):
    def test_a_failed_copy_leaves_the_target_empty(self):
        import sqlite3
        srv = sqlite_node()
        dbname = "vgbb_copy_" + secrets.token_hex(6)
        try:
            srv.new_key("carol", "3.00")
            srv.stop()
            db = sqlite3.connect(os.path.join(srv.data, "vidgate.db"))
            db.execute("INSERT INTO ledger (key_id, kind, amount_micro, created_at) "
                       "VALUES ('key_nobody', 'credit', 1, 1)")  # no such key: PostgreSQL refuses
            db.commit()
            db.close()  # an open connection is a node still running, to the copy
            harness._psql(harness.PG_URL, "CREATE DATABASE %s;" % dbname)
            target = harness._pg_url_for(dbname)
            rc, out, err = run_copy("--from", srv.data, "--to", target)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("cannot copy into ledger", err)
            self.assertEqual(harness._psql(target, "SELECT count(*) FROM keys;"), [("0",)])
            db = sqlite3.connect(os.path.join(srv.data, "vidgate.db"))
            db.execute("DELETE FROM ledger WHERE key_id = 'key_nobody'")
            db.commit()
            db.close()
            rc, out, err = run_copy("--from", srv.data, "--to", target)
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(harness._psql(target, "SELECT count(*) FROM keys;"), [("2",)])
        finally:
            srv.close()
            shutil.rmtree(srv.data, ignore_errors=True)
            harness._psql(harness.PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % dbname)


@unittest.skipUnless(harness.USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class CopyToPostgres(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.s3 = S3Server()
        cls.hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
        threading.Thread(target=cls.hooks.serve_forever, daemon=True).start()
        cls.hook_url = "http://127.0.0.1:%d" % cls.hooks.server_address[1]
        cls.src = cls.dst = None
        cls.dbname = "vgbb_copy_" + secrets.token_hex(6)
        harness._psql(harness.PG_URL, "CREATE DATABASE %s;" % cls.dbname)
        cls.target = harness._pg_url_for(cls.dbname)
        cls.content = cls.s3.url("moved")
        try:
            cls.src = sqlite_node(env=OPEN)
            cls.make_state()
            cls.before = cls.snapshot(cls.src)
            cls.src.stop()
            cls.copy = run_copy("--from", cls.src.data, "--to", cls.target, "--content-to",
                                cls.content, env=CREDS)
            if cls.copy[0] != 0:
                raise AssertionError("copy failed: %s %s" % cls.copy[1:])
            env = dict(CREDS)
            env["VIDGATE_ADMIN_KEY"] = cls.src.admin_key
            data = tempfile.mkdtemp(prefix="vg-bb-copy-to-")
            os.chmod(data, 0o700)
            cls.dst = Server(env=env, args=["--content", cls.content], data_dir=data,
                             database=cls.target, start=False)
            cls.dst.admin_key = cls.src.admin_key
            cls.dst.start()
            cls.after = cls.snapshot(cls.dst)  # before any test adds to it
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for srv in (cls.dst, cls.src):
                if srv:
                    srv.close()
                    shutil.rmtree(srv.data, ignore_errors=True)
        finally:
            harness._psql(harness.PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % cls.dbname)
            cls.hooks.shutdown()
            cls.s3.close()

    # -- the source's state ----------------------------------------------------------------
    @classmethod
    def make_state(cls):
        src = cls.src
        cls.kid1, cls.k1 = src.new_key("alice", "20.00")
        cls.kid2, cls.k2 = src.new_key("bob", "5.00")
        for path, body in (("/admin/keys/%s/credit" % cls.kid2, {"amount": "1.5"}),
                           ("/admin/keys/%s/debit" % cls.kid1, {"amount": "0.75"})):
            st, _, j = src.api("POST", path, body, key=src.admin_key)
            assert st == 200, (path, st, j)
        cls.png = png_bytes(640, 360)
        st, _, j = src.api("POST", A + "CreateAsset",
                           {"Name": "frame", "Data": base64.b64encode(cls.png).decode()},
                           key=cls.k1)
        assert st == 200, j
        cls.asset_id = j["Result"]["Id"]
        ids = []
        st, _, t = src.submit(cls.k1, callback_url=cls.hook_url + "/hook")
        assert st == 200, t
        ids.append(t["id"])
        st, _, t = src.submit(cls.k2, prompt="bob's scene")
        assert st == 200, t
        ids.append(t["id"])
        st, _, t = src.submit(cls.k2, images=[cls.hook_url + "/missing.png"])
        assert st == 200, t
        cls.failed_id = t["id"]
        ids.append(t["id"])
        # One render worker: a task submitted behind the others is still queued when cancelled.
        cls.cancelled_id = None
        for i in range(5):
            st, _, t = src.submit(cls.k1, prompt="cancel me %d" % i)
            assert st == 200, t
            ids.append(t["id"])
            st, _, c = src.api("DELETE", "/v1/video/generations/" + t["id"], key=cls.k1)
            if st == 200:
                cls.cancelled_id = t["id"]
                break
        assert cls.cancelled_id, "no task could be cancelled"
        cls.ids = ids
        cls.owner = {tid: cls.k2 if tid in ids[1:3] else cls.k1 for tid in ids}
        for tid in ids:
            src.wait_task(tid, cls.owner[tid])
        deadline = time.time() + 30
        while time.time() < deadline:
            t = src.api("GET", "/v1/video/generations/" + ids[0], key=cls.k1)[2]
            if t.get("webhook", {}).get("status") == "delivered":
                break
            time.sleep(0.1)
        assert t.get("webhook", {}).get("status") == "delivered", t
        while time.time() < deadline:
            st, _, j = src.api("POST", A + "GetAsset", {"Id": cls.asset_id}, key=cls.k1)
            if j["Result"]["Status"] == "Active":
                break
            time.sleep(0.05)
        assert j["Result"]["Status"] == "Active", j

    @classmethod
    def snapshot(cls, srv):
        """What the API shows of everything copied."""
        snap = {}
        for name, key in (("alice", cls.k1), ("bob", cls.k2)):
            snap[name] = {
                "me": srv.api("GET", "/v1/me", key=key)[2],
                "ledger": srv.api("GET", "/v1/me/ledger?limit=100", key=key)[2],
                "list": unhosted(srv.api("GET", "/v1/video/generations?limit=100", key=key)[2]),
            }
        snap["keys"] = srv.api("GET", "/admin/keys", key=srv.admin_key)[2]
        snap["tasks"] = {tid: unhosted(srv.api("GET", "/v1/video/generations/" + tid,
                                               key=cls.owner[tid])[2]) for tid in cls.ids}
        snap["asset"] = unhosted(srv.api("POST", A + "GetAsset", {"Id": cls.asset_id}, key=cls.k1)[2])
        snap["asset"].pop("ResponseMetadata", None)
        return snap

    # -- the target ------------------------------------------------------------------------
    def test_summary(self):
        out = self.copy[1]
        for table in ("keys", "tasks", "ledger", "assets", "webhook_deliveries", "settings"):
            self.assertRegex(out, r"\n  %s +[1-9]\d* rows" % table)
        self.assertRegex(out, r"content: [1-9]\d* files \([1-9]\d* bytes\) copied to s3 bucket")
        self.assertIn("0 difference(s)", out)

    def test_state_is_the_same(self):
        after = self.after
        for part in ("alice", "bob", "keys", "asset"):
            self.assertEqual(after[part], self.before[part], part)
        for tid in self.ids:
            self.assertEqual(after["tasks"][tid], self.before["tasks"][tid], tid)
        statuses = {t["status"] for t in after["tasks"].values()}
        self.assertEqual(statuses, {"completed", "failed", "cancelled"})
        bob = after["bob"]["me"]
        self.assertEqual((bob["held"], bob["balance"]), ("0.000000", self.before["bob"]["me"]["balance"]))
        failed = [r for r in after["bob"]["ledger"]["data"] if r["task_id"] == self.failed_id]
        self.assertEqual(sorted(r["kind"] for r in failed), ["hold", "release"])

    def test_results_are_the_same_bytes(self):
        done = [tid for tid, t in self.before["tasks"].items() if t["status"] == "completed"]
        self.assertGreaterEqual(len(done), 2)
        for tid in done:
            with open(os.path.join(self.src.data, "files", tid, "video.mp4"), "rb") as f:
                video = f.read()
            self.assertEqual(self.s3.head("moved/%s/video.mp4" % tid), (200, len(video)))
            r = self.dst.request("GET", "/v1/videos/%s/content" % tid, key=self.owner[tid])
            self.assertEqual((r.status, r.body), (200, video), tid)

    def test_asset_is_usable(self):
        sha = hashlib.sha256(self.png).hexdigest()
        self.assertEqual(self.s3.head("moved/assets/" + sha), (200, len(self.png)))
        st, _, t = self.dst.submit(self.k1, metadata={
            "resolution": "480p", "ratio": "16:9",
            "content": [{"type": "image_url", "image_url": {"url": "asset://" + self.asset_id},
                         "role": "first_frame"}]})
        self.assertEqual(st, 200, t)
        # a link handed out by the old node works on the new one
        r = self.dst.request("GET", self.before["asset"]["Result"]["URL"])
        self.assertEqual((r.status, r.body), (200, self.png))
        t = self.dst.wait_task(t["id"], self.k1)
        self.assertEqual(t["status"], "completed", t)

    def test_check_is_clean(self):
        r = subprocess.run([VIDGATED, "check", "--database", self.target], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 difference(s)", r.stdout)

    def test_second_copy_refused(self):
        rc, out, err = run_copy("--from", self.src.data, "--to", self.target, env=CREDS)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("already holds keys", err)
        self.assertNotIn("store:", out)

    def test_content_copy_again_finds_everything(self):
        rc, out, err = run_copy("--from", self.src.data, "--content-to", self.content, env=CREDS)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"content: 0 files \(0 bytes\) copied to .*; [1-9]\d* already there")
        self.assertNotIn("check of the target", out)


if __name__ == "__main__":
    unittest.main()
