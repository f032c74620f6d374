"""Content in an S3-compatible bucket (--content s3://…), several nodes sharing it: s3rver (npm,
pinned in tests/s3/package.json) runs on loopback and checks every request's SigV4 signature. Node A
renders and uploads; node B, started on its own data directory over the same database (SQLite or
PostgreSQL), has nothing in its cache and serves the content (full, Range, presigned, the same ETag) after fetching
it from the bucket; assets uploaded on A are served and rendered by another node; task delete and
the retention sweep remove the objects. The bucket is inspected with curl --aws-sigv4 (HEAD, list).
Also the directory form of --content (a directory reached through DATA/files) and bad URLs.

Skipped, with the reason, when node/npm are missing or s3rver cannot be installed."""
import base64
import concurrent.futures
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

import harness
from harness import Server
from images import png_bytes

S3_DIR = os.path.join(harness.ROOT, "tests", "s3")
BUCKET = "vidgate"
CREDS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}  # s3rver's defaults
A = "/v1/seedance/asset/"


class S3Server:
    """s3rver on a free loopback port with one bucket, and a signed client made of curl."""

    def __init__(self):
        if not shutil.which("node") or not shutil.which("npm"):
            raise unittest.SkipTest("node and npm are missing (scripts/install-deps installs them)")
        if not shutil.which("curl"):
            raise unittest.SkipTest("the curl command is missing (scripts/install-deps installs it)")
        r = subprocess.run([os.path.join(S3_DIR, "install.sh")], capture_output=True, text=True)
        if r.returncode != 0:
            raise unittest.SkipTest("s3rver cannot be installed: " + r.stderr.strip()[-300:])
        self.dir = tempfile.mkdtemp(prefix="vg-s3-")
        self.port = harness.free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "s3rver.log"), "wb")
        self.proc = subprocess.Popen(
            ["node", os.path.join(S3_DIR, "node_modules", "s3rver", "bin", "s3rver.js"),
             "-d", os.path.join(self.dir, "data"), "-a", "127.0.0.1", "-p", str(self.port),
             "--configure-bucket", BUCKET], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.close()
        raise AssertionError("s3rver did not start")

    def url(self, prefix):
        return "s3://%s/%s?endpoint=%s&region=us-east-1" % (BUCKET, prefix, self.endpoint)

    def _curl(self, *args):
        cmd = ["curl", "-s", "--aws-sigv4", "aws:amz:us-east-1:s3",
               "--user", "%s:%s" % (CREDS["AWS_ACCESS_KEY_ID"], CREDS["AWS_SECRET_ACCESS_KEY"]),
               "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=30, check=True).stdout

    def head(self, key):
        """(HTTP status, Content-Length) of a HEAD of the object."""
        out = self._curl("-I", "%s/%s/%s" % (self.endpoint, BUCKET, key)).decode()
        status = int(out.split()[1])
        length = [int(l.split(":")[1]) for l in out.splitlines()
                  if l.lower().startswith("content-length:")]
        return status, length[0] if length else None

    def get(self, key):
        return self._curl("%s/%s/%s" % (self.endpoint, BUCKET, key))

    def list(self, prefix):
        """Keys under prefix (ListObjectsV2)."""
        body = self._curl("%s/%s?list-type=2&prefix=%s" % (
            self.endpoint, BUCKET, urllib.parse.quote(prefix, safe="")))
        root = ET.fromstring(body)
        return sorted(e.text for e in root.iter() if e.tag.endswith("}Key") or e.tag == "Key")

    def wait_gone(self, key, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.head(key)[0] == 404:
                return True
            time.sleep(0.2)
        return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def second_node(first, content_url, name, env=None):
    """A node on its own data directory over first's database (and presigning secret)."""
    data = tempfile.mkdtemp(prefix="vg-bb-node-")
    os.chmod(data, 0o700)
    database = harness.store_args(first.data)  # PostgreSQL: first's database, by its URL
    if not database:
        os.symlink(os.path.join(first.data, "vidgate.db"), os.path.join(data, "vidgate.db"))
    shutil.copy(os.path.join(first.data, "secret"), os.path.join(data, "secret"))
    e = dict(CREDS)
    e["VIDGATE_ADMIN_KEY"] = first.admin_key
    e.update(env or {})
    srv = Server(env=e, args=["--content", content_url, "--node", name], data_dir=data,
                 start=False, database=database[1] if database else None)
    srv.admin_key = first.admin_key
    srv.start()
    return srv


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class TwoNodes(unittest.TestCase):
    """Nodes A and B share the database and the bucket (prefix "p1"). Tasks are submitted on A;
    whichever node renders one (both claim work), the other one serves it from the bucket."""

    @classmethod
    def setUpClass(cls):
        cls.s3 = S3Server()
        cls.url = cls.s3.url("p1")
        cls.a = Server(env=dict(CREDS), args=["--content", cls.url, "--node", "a"])
        try:
            cls.key_id, cls.key = cls.a.new_key("s3", "100.00")
            # B starts after A's first render: B's workers would otherwise claim tasks too
            cls.task = cls.render_on(cls.a)
            cls.b = second_node(cls.a, cls.url, "b")
        except BaseException:
            cls.a.close()
            cls.s3.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.b.close()
            shutil.rmtree(cls.b.data, ignore_errors=True)
        finally:
            cls.a.close()
            cls.s3.close()

    @classmethod
    def render_on(cls, srv, **fields):
        st, _, t = srv.submit(cls.key, **fields)
        assert st == 200, t
        t = srv.wait_task(t["id"], cls.key)
        assert t["status"] == "completed", t
        return t

    def render(self):
        """A completed task, the node that rendered it and the other one (whose cache lacks it)."""
        t = self.render_on(self.a)
        if os.path.exists(self.local(self.a, t["id"])):
            return t, self.a, self.b
        return t, self.b, self.a

    @staticmethod
    def local(srv, task_id, name="video.mp4"):
        return os.path.join(srv.data, "files", task_id, name)

    def test_upload_before_completed(self):
        tid = self.task["id"]
        keys = self.s3.list("p1/%s/" % tid)
        self.assertEqual(keys, ["p1/%s/thumbnail.jpg" % tid, "p1/%s/video.mp4" % tid])
        with open(self.local(self.a, tid), "rb") as f:
            video = f.read()
        self.assertEqual(self.s3.head("p1/%s/video.mp4" % tid), (200, len(video)))
        self.assertEqual(self.s3.get("p1/%s/video.mp4" % tid), video)

    def test_other_node_serves_range_then_full(self):
        tid = self.task["id"]  # rendered by A before B started
        with open(self.local(self.a, tid), "rb") as f:
            video = f.read()
        ref = self.a.request("GET", "/v1/videos/%s/content" % tid, key=self.key)
        self.assertFalse(os.path.exists(self.local(self.b, tid)))  # B's cache lacks it
        part = self.b.request("GET", "/v1/videos/%s/content" % tid, key=self.key,
                              headers={"Range": "bytes=100-1099"})
        self.assertEqual(part.status, 206, part.body[:300])
        self.assertEqual(part.body, video[100:1100])
        self.assertEqual(part.headers["content-range"], "bytes 100-1099/%d" % len(video))
        self.assertTrue(os.path.exists(self.local(self.b, tid)))  # now cached
        full = self.b.request("GET", "/v1/videos/%s/content" % tid, key=self.key)
        self.assertEqual((full.status, full.body), (200, video))
        # the same validators on both nodes: a client may switch nodes between requests
        self.assertEqual(full.headers["etag"], ref.headers["etag"])
        self.assertEqual(full.headers["last-modified"], ref.headers["last-modified"])
        nm = self.b.request("GET", "/v1/videos/%s/content" % tid, key=self.key,
                            headers={"If-None-Match": ref.headers["etag"]})
        self.assertEqual(nm.status, 304)

    def test_concurrent_misses_and_presigned(self):
        t, made, other = self.render()
        tid = t["id"]
        with open(self.local(made, tid, "thumbnail.jpg"), "rb") as f:
            thumb = f.read()
        self.assertFalse(os.path.exists(self.local(other, tid, "thumbnail.jpg")))
        path = "/v1/videos/%s/content?variant=thumbnail" % tid
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: other.request("GET", path, key=self.key), range(8)))
        for r in got:
            self.assertEqual((r.status, r.headers["content-type"], r.body),
                             (200, "image/jpeg", thumb))
        # a presigned link works on every node (shared secret), the video fetched on the way
        u = urllib.parse.urlsplit(t["output"]["video_url"])
        r = other.request("GET", u.path + "?" + u.query)
        with open(self.local(made, tid), "rb") as f:
            self.assertEqual((r.status, r.body), (200, f.read()))

    def test_missing_object_and_delete(self):
        t, made, other = self.render()
        tid = t["id"]
        # cached by the other node, then deleted through it: gone from the bucket, 410 on both
        self.assertEqual(other.request("GET", "/v1/videos/%s/content" % tid, key=self.key).status,
                         200)
        st, _, j = other.api("DELETE", "/v1/video/generations/" + tid, key=self.key)
        self.assertEqual(st, 200, j)
        for name in ("video.mp4", "thumbnail.jpg"):
            self.assertTrue(self.s3.wait_gone("p1/%s/%s" % (tid, name)), name)
        self.assertEqual(self.s3.list("p1/%s/" % tid), [])
        self.assertFalse(os.path.exists(self.local(other, tid)))
        for srv in (self.a, self.b):
            st, _, j = srv.api("GET", "/v1/videos/%s/content" % tid, key=self.key)
            self.assertEqual((st, j["error"]["code"]), (410, "video_deleted"))

    def test_object_lost_from_bucket(self):
        # the bucket no longer has a completed task's object (removed behind our back): B, whose
        # cache lacks it, answers as for content that is gone, and the fetch does not hang
        t, _, other = self.render()
        tid = t["id"]
        self.s3._curl("-X", "DELETE", "%s/%s/p1/%s/video.mp4" % (self.s3.endpoint, BUCKET, tid))
        st, _, j = other.api("GET", "/v1/videos/%s/content" % tid, key=self.key)
        self.assertEqual((st, j["error"]["code"]), (410, "video_expired"))

    def test_staged_uploads_processed_anywhere(self):
        # Data uploads staged on A are processed by whichever node's worker claims them: one on B
        # fetches A's staged copy from the bucket
        aids = []
        for w in range(640, 648):
            st, _, j = self.a.api("POST", A + "CreateAsset", {
                "Name": "f", "Data": base64.b64encode(png_bytes(w, 360)).decode()}, key=self.key)
            self.assertEqual(st, 200, j)
            aids.append(j["Result"]["Id"])
        for aid in aids:
            a = self.active(aid)
            self.assertEqual(a["Status"], "Active", a)
            self.assertEqual(self.s3.list("p1/assets/staging/" + aid), [])  # removed when done
        by_b = sum(1 for aid in aids if "asset %s active" % aid in self.b.log_text())
        print("(%d of %d staged uploads processed by the other node)" % (by_b, len(aids)),
              end=" ", flush=True)

    def active(self, aid):
        deadline = time.time() + 30
        while time.time() < deadline:
            st, _, j = self.a.api("POST", A + "GetAsset", {"Id": aid}, key=self.key)
            if j["Result"]["Status"] != "Processing":
                break
            time.sleep(0.05)
        return j["Result"]

    def test_assets_served_by_other_node(self):
        png = png_bytes(640, 360)
        st, _, j = self.a.api("POST", A + "CreateAsset",
                              {"Name": "frame", "Data": base64.b64encode(png).decode()},
                              key=self.key)
        self.assertEqual(st, 200, j)
        a = self.active(j["Result"]["Id"])
        self.assertEqual(a["Status"], "Active", a)
        key = "p1/assets/" + sha256(png)
        self.assertEqual(self.s3.head(key), (200, len(png)))  # uploaded before it became Active
        self.assertFalse(os.path.exists(os.path.join(self.b.data, "files", "assets", sha256(png))))
        u = urllib.parse.urlsplit(a["URL"])
        part = self.b.request("GET", u.path + "?" + u.query, headers={"Range": "bytes=0-7"})
        self.assertEqual((part.status, part.body), (206, png[:8]))
        full = self.b.request("GET", u.path + "?" + u.query)
        self.assertEqual((full.status, full.headers["content-type"], full.body),
                         (200, "image/png", png))


    def test_inline_media_in_bucket_before_reply(self):
        # A data: first frame is stored as content before the task row commits: with a bucket it
        # is uploaded too, so whichever node claims the task can fetch it.
        png = png_bytes(320, 180)
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        st, _, t = self.a.submit(self.key, metadata={
            "resolution": "480p", "ratio": "16:9",
            "content": [{"type": "image_url", "image_url": {"url": url}, "role": "first_frame"}]})
        self.assertEqual(st, 200, t)
        self.assertEqual(self.s3.head("p1/assets/" + sha256(png)), (200, len(png)))
        t = self.a.wait_task(t["id"], self.key)
        self.assertEqual(t["status"], "completed", t)


class AssetRenderedElsewhere(unittest.TestCase):
    """An asset uploaded on A is the first frame of a task that B renders (A is gone by then)."""

    def test_render_from_bucket_asset(self):
        s3 = S3Server()
        a = b = None
        try:
            url = s3.url("p2")
            a = Server(env=dict(CREDS), args=["--content", url, "--node", "a"])
            _, key = a.new_key("s3", "100.00")
            png = png_bytes(640, 360)
            st, _, j = a.api("POST", A + "CreateAsset",
                             {"Name": "frame", "Data": base64.b64encode(png).decode()}, key=key)
            self.assertEqual(st, 200, j)
            aid = j["Result"]["Id"]
            deadline = time.time() + 30
            while time.time() < deadline:
                st, _, j = a.api("POST", A + "GetAsset", {"Id": aid}, key=key)
                if j["Result"]["Status"] == "Active":
                    break
                time.sleep(0.05)
            self.assertEqual(j["Result"]["Status"], "Active", j)
            a.stop()
            b = second_node(a, url, "b")
            st, _, t = b.submit(key, metadata={
                "resolution": "480p", "ratio": "16:9",
                "content": [{"type": "image_url", "image_url": {"url": "asset://" + aid},
                             "role": "first_frame"}]})
            self.assertEqual(st, 200, t)
            t = b.wait_task(t["id"], key)
            self.assertEqual(t["status"], "completed", t)
            self.assertTrue(os.path.exists(os.path.join(b.data, "files", "assets", sha256(png))))
            self.assertEqual(s3.head("p2/%s/video.mp4" % t["id"])[0], 200)
        finally:
            if b:
                b.close()
                shutil.rmtree(b.data, ignore_errors=True)
            if a:
                a.close()
            s3.close()


class UpstreamResults(unittest.TestCase):
    """A result downloaded from the Ark upstream (ark-sim) is uploaded before the completion."""

    def test_upstream_result_in_bucket(self):
        from test_ark import Sim, channel, start_vidgate
        s3 = S3Server()
        sim = srv = None
        try:
            sim = Sim(queue_ms=100, run_ms=300)
            srv = start_vidgate([channel(sim)], env=dict(CREDS),
                                config_extra={"content": s3.url("p4")})
            _, key = srv.new_key("s3", "100.00")
            st, _, t = srv.submit(key)
            self.assertEqual(st, 200, t)
            t = srv.wait_task(t["id"], key)
            self.assertEqual(t["status"], "completed", t)
            tid = t["id"]
            self.assertEqual(s3.list("p4/%s/" % tid),
                             ["p4/%s/thumbnail.jpg" % tid, "p4/%s/video.mp4" % tid])
            with open(os.path.join(srv.data, "files", tid, "video.mp4"), "rb") as f:
                self.assertEqual(s3.get("p4/%s/video.mp4" % tid), f.read())
        finally:
            if srv:
                srv.close()
            if sim:
                sim.close()
            s3.close()


class Retention(unittest.TestCase):
    """The retention sweep removes expired results from the bucket too."""

    def test_sweep_deletes_objects(self):
        s3 = S3Server()
        srv = None
        try:
            srv = Server(env=dict(CREDS, VIDGATE_RETENTION_S="4"),
                         args=["--content", s3.url("p3")])
            _, key = srv.new_key("s3", "100.00")
            st, _, t = srv.submit(key)
            self.assertEqual(st, 200, t)
            t = srv.wait_task(t["id"], key)
            self.assertEqual(t["status"], "completed", t)
            tid = t["id"]
            self.assertEqual(sorted(s3.list("p3/%s/" % tid)),
                             ["p3/%s/thumbnail.jpg" % tid, "p3/%s/video.mp4" % tid])
            for name in ("video.mp4", "thumbnail.jpg"):
                self.assertTrue(s3.wait_gone("p3/%s/%s" % (tid, name), timeout=30), name)
            self.assertFalse(os.path.exists(os.path.join(srv.data, "files", tid)))
            st, _, j = srv.api("GET", "/v1/videos/%s/content" % tid, key=key)
            self.assertEqual((st, j["error"]["code"]), (410, "video_expired"))
        finally:
            if srv:
                srv.close()
            s3.close()


class ContentOptions(unittest.TestCase):
    """--content as a directory, and URLs refused at start (no S3 server needed)."""

    def test_directory_elsewhere(self):
        shared = tempfile.mkdtemp(prefix="vg-bb-shared-")
        srv = Server(args=["--content", shared])
        try:
            link = os.path.join(srv.data, "files")
            self.assertEqual(os.readlink(link), shared)
            _, key = srv.new_key("dir", "100.00")
            st, _, t = srv.submit(key)
            t = srv.wait_task(t["id"], key)
            self.assertEqual(t["status"], "completed", t)
            self.assertTrue(os.path.exists(os.path.join(shared, t["id"], "video.mp4")))
            r = srv.request("GET", "/v1/videos/%s/content" % t["id"], key=key,
                            headers={"Range": "bytes=0-9"})
            self.assertEqual(r.status, 206)
        finally:
            srv.close()
            shutil.rmtree(shared, ignore_errors=True)

    def test_bad_urls_refused(self):
        env = {k: "" for k in CREDS}
        for url, why in (("s3://vidgate/p?endpoint=http://127.0.0.1:1", "AWS_ACCESS_KEY_ID"),
                         ("s3://x/p?endpoint=http://127.0.0.1:1", "bucket"),
                         ("relative/dir", "neither")):
            srv = Server(env=env, args=["--content", url], start=False)
            try:
                with self.assertRaises(AssertionError) as cm:
                    srv.start(timeout=10)
                self.assertIn(why, str(cm.exception))
            finally:
                srv.proc.wait()
                srv.log_file.close()
                shutil.rmtree(srv.data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
