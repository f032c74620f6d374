"""End to end through the local engine: text-to-video and image-to-video tasks reach `completed`,
the MP4s are checked through libavformat (vg-probe), camera moves go the right way, and content
delivery honours Range, ETag/304, presigned URLs, expiry and deletion."""
import base64
import email.utils
import hashlib
import http.server
import os
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Server, probe
from images import png_bytes

FAST = "doubao-seedance-2-0-fast"


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


class _Files(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class RenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("render", "1000.00")
        cls.tmp = tempfile.mkdtemp(prefix="vg-render-")
        cls.image = png_bytes(640, 360)

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def run_task(self, **fields):
        st, _, j = self.srv.submit(self.key, **fields)
        self.assertEqual(st, 200, j)
        t = self.srv.wait_task(j["id"], self.key)
        self.assertEqual(t["status"], "completed", t)
        return t

    def fetch_video(self, t, name):
        path = os.path.join(self.tmp, name)
        self.srv.download(t["output"]["video_url"], path)  # presigned: no key
        return path

    def test_text_to_video(self):
        t = self.run_task(prompt="a lighthouse at dusk", seconds="4",
                          metadata={"resolution": "480p", "ratio": "16:9", "seed": 7})
        self.assertEqual(t["progress"], 100)
        self.assertEqual((t["size"], t["seed"]), ("864x496", 7))
        tokens = 864 * 496 * 97 // 1024
        self.assertEqual(t["usage"], {"completion_tokens": tokens, "total_tokens": tokens})
        self.assertEqual(t["cost"], "%.6f" % (-(-tokens * 5600000 // 10 ** 6) / 1e6))
        self.assertEqual(t["result_url"], t["output"]["video_url"])
        self.assertIsNone(t["error"])
        self.assertGreater(t["expires_at"], t["completed_at"])
        info = probe(self.fetch_video(t, "t2v.mp4"))
        self.assertEqual((info["codec"], info["width"], info["height"], info["frames"],
                          info["pix_fmt"]), ("h264", 864, 496, 97, "yuv420p"))

    def test_same_seed_same_video(self):
        a = self.run_task(prompt="waves", metadata={"resolution": "480p", "ratio": "1:1", "seed": 42})
        b = self.run_task(prompt="waves", metadata={"resolution": "480p", "ratio": "1:1", "seed": 42})
        c = self.run_task(prompt="waves", metadata={"resolution": "480p", "ratio": "1:1", "seed": 43})
        digest = lambda t, n: hashlib.sha256(open(self.fetch_video(t, n), "rb").read()).hexdigest()
        self.assertEqual(digest(a, "a.mp4"), digest(b, "b.mp4"))
        self.assertNotEqual(digest(a, "a.mp4"), digest(c, "c.mp4"))

    def test_image_to_video_data_url(self):
        t = self.run_task(prompt="镜头缓缓推进，人物自然微笑", images=[data_url(self.image)],
                          metadata={"resolution": "480p", "return_last_frame": True})
        self.assertEqual(t["ratio"], "16:9")
        path = self.fetch_video(t, "i2v.mp4")
        info = probe(path)
        self.assertEqual((info["width"], info["height"], info["frames"]), (864, 496, 97))
        png = os.path.join(self.tmp, "src.png")
        open(png, "wb").write(self.image)
        self.assertGreater(probe(png, "compare", path)["psnr"], 28)
        lf = os.path.join(self.tmp, "last.png")
        self.srv.download(t["output"]["last_frame_url"], lf)
        li = probe(lf)
        self.assertEqual((li["width"], li["height"]), (864, 496))

    def test_image_to_video_from_url(self):
        _Files.files["/first.png"] = png_bytes(360, 640)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/first.png" % httpd.server_address[1]
        try:
            # Refused by default: http:// and loopback are both off.
            st, _, j = self.srv.submit(self.key, images=[url])
            self.assertEqual((st, j["error"]["param"]), (400, "images[0]"))
            open_srv = Server(env={"VIDGATE_ALLOW_HTTP_FETCH": "1",
                                   "VIDGATE_ALLOW_PRIVATE_FETCH": "1"})
            try:
                _, k = open_srv.new_key("fetcher", "10.00")
                st, _, j = open_srv.submit(k, images=[url], metadata={"resolution": "480p"})
                self.assertEqual(st, 200, j)
                t = open_srv.wait_task(j["id"], k)
                self.assertEqual((t["status"], t["ratio"], t["size"]),
                                 ("completed", "9:16", "496x864"), t)
                st, _, j = open_srv.submit(k, images=[url.replace("first", "missing")])
                t = open_srv.wait_task(j["id"], k)
                self.assertEqual((t["status"], t["error"]["code"]), ("failed", "image_fetch_failed"))
                self.assertEqual(open_srv.api("GET", "/v1/me", key=k)[2]["held"], "0.000000")
            finally:
                open_srv.close()
        finally:
            httpd.shutdown()

    def motion(self, prompt):
        t = self.run_task(prompt=prompt, images=[data_url(self.image)],
                          metadata={"resolution": "480p", "ratio": "16:9"})
        return probe(self.fetch_video(t, "move.mp4"), "motion")

    def test_camera_moves(self):
        cases = [
            ("pan left across the room", lambda m: m["dx"] > 8),
            ("镜头右移", lambda m: m["dx"] < -8),
            ("tilt up to the sky", lambda m: m["dy"] > 8),
            ("镜头缓慢推进", lambda m: m["scale"] > 1.05),
            ("pull out slowly", lambda m: m["scale"] < 0.95),
            ("固定镜头", lambda m: abs(m["dx"]) < 2 and abs(m["dy"]) < 2 and
             abs(m["scale"] - 1) < 0.02),
        ]
        for prompt, ok in cases:
            with self.subTest(prompt=prompt):
                m = self.motion(prompt)
                self.assertTrue(ok(m), "%s → %s" % (prompt, m))

    def test_content_range_etag_and_presign(self):
        t = self.run_task(prompt="content checks")
        path = "/v1/videos/%s/content" % t["id"]
        full = self.srv.request("GET", path, key=self.key)
        self.assertEqual(full.status, 200)
        self.assertEqual(full.headers["content-type"], "video/mp4")
        self.assertEqual(int(full.headers["content-length"]), len(full.body))
        self.assertEqual(full.headers.get("accept-ranges"), "bytes")
        self.assertTrue(full.headers.get("last-modified"))
        etag = full.headers["etag"]
        part = self.srv.request("GET", path, key=self.key, headers={"Range": "bytes=100-199"})
        self.assertEqual(part.status, 206)
        self.assertEqual(part.body, full.body[100:200])
        self.assertTrue(part.headers["content-range"].startswith("bytes 100-199/"))
        tail = self.srv.request("GET", path, key=self.key, headers={"Range": "bytes=-10"})
        self.assertEqual((tail.status, tail.body), (206, full.body[-10:]))
        st, h, e = self.srv.api("GET", path, key=self.key,
                                headers={"Range": "bytes=%d-" % len(full.body)})
        self.assertEqual((st, h["content-range"]), (416, "bytes */%d" % len(full.body)))
        stale = self.srv.request("GET", path, key=self.key,
                                 headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((stale.status, len(stale.body)), (200, len(full.body)))
        cached = self.srv.request("GET", path, key=self.key, headers={"If-None-Match": etag})
        self.assertEqual((cached.status, cached.body), (304, b""))
        self.assertEqual(cached.headers["etag"], etag)
        # If-Modified-Since is compared as a time: the same date, a later one, not an earlier one
        lm = full.headers["last-modified"]
        later = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() + 3600,
                                       usegmt=True)
        earlier = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() - 3600,
                                         usegmt=True)
        for ims, want in ((lm, 304), (later, 304), (earlier, 200), ("yesterday", 200)):
            r = self.srv.request("GET", path, key=self.key, headers={"If-Modified-Since": ims})
            self.assertEqual(r.status, want, ims)
        thumb = self.srv.request("GET", path + "?variant=thumbnail", key=self.key)
        self.assertEqual((thumb.status, thumb.headers["content-type"]), (200, "image/jpeg"))
        self.assertEqual(self.srv.api("GET", path + "?variant=last_frame", key=self.key)[0], 404)
        self.assertEqual(self.srv.api("GET", path + "?variant=raw", key=self.key)[0], 400)
        # presigned URL: works without a key, refuses any change
        url = t["output"]["video_url"]
        self.assertEqual(self.srv.request("GET", url).body, full.body)
        u = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(u.query))
        tampered = [
            "%s?expires=%d&sig=%s" % (u.path, int(q["expires"]) + 1, q["sig"]),
            "%s?expires=%s&sig=%s" % (u.path, q["expires"], "0" * 64),
            "%s?expires=%s&sig=%s" % (u.path.replace("/video", "/thumbnail"), q["expires"], q["sig"]),
            u.path,
        ]
        for p in tampered:
            with self.subTest(url=p):
                st, _, j = self.srv.api("GET", p)
                self.assertEqual((st, j["error"]["code"]), (403, "invalid_signature"))

    def test_not_ready_then_delete(self):
        st, _, j = self.srv.submit(self.key, seconds="8", metadata={"resolution": "720p"},
                                   model="doubao-seedance-2-0")
        st, _, e = self.srv.api("GET", "/v1/videos/%s/content" % j["id"], key=self.key)
        if st != 200:  # the render may already be done on a fast machine
            self.assertEqual((st, e["error"]["code"]), (409, "video_not_ready"))
        t = self.srv.wait_task(j["id"], self.key)
        st, _, d = self.srv.api("DELETE", "/v1/video/generations/" + t["id"], key=self.key)
        self.assertEqual((st, d["status"]), (200, "completed"))
        self.assertNotIn("output", d)
        st, _, e = self.srv.api("GET", "/v1/videos/%s/content" % t["id"], key=self.key)
        self.assertEqual((st, e["error"]["code"]), (410, "video_deleted"))
        st, _, e = self.srv.api("GET", t["output"]["video_url"])
        self.assertEqual((st, e["error"]["code"]), (410, "video_deleted"))


class RetentionTest(unittest.TestCase):
    def test_expiry(self):
        srv = Server(env={"VIDGATE_RETENTION_S": "2"})
        try:
            _, k = srv.new_key("short", "10.00")
            st, _, j = srv.submit(k)
            t = srv.wait_task(j["id"], k)
            self.assertEqual(t["status"], "completed")
            time.sleep(max(0, t["expires_at"] - time.time()) + 1.1)
            st, _, e = srv.api("GET", t["output"]["video_url"])
            self.assertEqual((st, e["error"]["code"]), (403, "url_expired"))
            st, _, e = srv.api("GET", "/v1/videos/%s/content" % t["id"], key=k)
            self.assertEqual((st, e["error"]["code"]), (410, "video_expired"))
            # the retention sweep removes the files themselves
            deadline = time.time() + 10
            while os.path.exists(os.path.join(srv.data, "files", t["id"])) and time.time() < deadline:
                time.sleep(0.2)
            self.assertFalse(os.path.exists(os.path.join(srv.data, "files", t["id"])))
            st, _, e = srv.api("GET", "/v1/videos/%s/content" % t["id"], key=k)
            self.assertEqual(st, 410)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
