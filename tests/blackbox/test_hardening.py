"""Hardening found by attacking the server and by trying it as a new user, each reproduced here over
loopback with bounded sizes: first frames of every camera move, the largest documented image, a
failed fetch naming its field and host, the OpenAI surface after a delete and on a non-image upload,
who may use which route (403), `vidgate generate` checking its output before paying, the warning
for links built on an unspecified address, and file modes of the data directory."""
import base64
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

import harness
from harness import Server, probe
from images import png_bytes
from test_openai import multipart

FAST = "doubao-seedance-2-0-fast"
VIDGATE = os.path.join(harness.BUILD, "vidgate")


def data_url(png, mime="image/png"):
    return "data:%s;base64,%s" % (mime, base64.b64encode(png).decode())


def _chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def grey_png(w, h):
    """A w x h greyscale PNG of vertical stripes, made fast (all rows alike, so it compresses to a
    few tens of kilobytes even at 6000 x 6000)."""
    row = b"\x00" + bytes((x // 50) % 2 * 160 + 40 for x in range(w))
    raw = row * h
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def smooth_png(w, h):
    """An RGB PNG of smooth gradients and a soft bright disc off the centre: detail the encoder
    keeps at its usual quality, so PSNR measures the geometry, not the compression."""
    bx, by, r2 = 0.3 * w, 0.35 * h, (0.12 * min(w, h)) ** 2
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")
        for x in range(w):
            d = ((x - bx) ** 2 + (y - by) ** 2) / r2
            glow = int(120 / (1 + d * d))
            row += bytes((min(255, 40 + x * 150 // w + glow), min(255, 30 + y * 160 // h + glow),
                          min(255, 90 + (x + y) * 60 // (w + h) + glow)))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b""))


class HardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("hardening", "1000.00")
        cls.tmp = tempfile.mkdtemp(prefix="vg-hard-")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        shutil.rmtree(cls.tmp, True)

    def run_task(self, key=None, **fields):
        st, _, j = self.srv.submit(key or self.key, **fields)
        self.assertEqual(st, 200, j)
        return self.srv.wait_task(j["id"], key or self.key)

    def video(self, t, name):
        self.assertEqual(t["status"], "completed", t)
        path = os.path.join(self.tmp, name)
        self.srv.download(t["output"]["video_url"], path)
        return path

    # -- 17: the first frame is the given image, whatever the camera does --------------------
    def test_first_frame_is_the_image_for_every_move(self):
        png = smooth_png(864, 496)  # the output size: the comparison involves no scaling
        src = os.path.join(self.tmp, "first.png")
        with open(src, "wb") as f:
            f.write(png)
        for prompt in ("pan left across the room", "tilt down to the street", "pull out slowly",
                       "orbit around"):
            with self.subTest(prompt=prompt):
                t = self.run_task(prompt=prompt, images=[data_url(png)])
                path = self.video(t, "move.mp4")
                psnr = probe(src, "compare", path)["psnr"]
                self.assertGreaterEqual(psnr, 35, "%s: first frame PSNR %.1f dB" % (prompt, psnr))

    # -- 11: the documented largest image works; the next size up is refused clearly -------
    def test_6000_pixel_image(self):
        t = self.run_task(prompt="static", images=[data_url(grey_png(6000, 6000))],
                          metadata={"resolution": "480p", "ratio": "1:1"})
        self.assertEqual(t["status"], "completed", t)
        st, _, j = self.srv.submit(self.key, images=[data_url(grey_png(6001, 16))])
        self.assertEqual((st, j["error"]["param"]), (400, "images[0]"), j)
        self.assertIn("6000", j["error"]["message"])

    # -- 18: a failed fetch names the field and the host ------------------------------------
    def test_failed_fetch_names_field_and_host(self):
        # localhost resolves to loopback, which the fetch policy refuses: no traffic leaves.
        t = self.run_task(images=["https://localhost:9/first.jpg"])
        self.assertEqual((t["status"], t["error"]["code"]), ("failed", "image_fetch_failed"), t)
        self.assertIn("images[0]", t["error"]["message"])
        self.assertIn("localhost", t["error"]["message"])
        content = [{"type": "text", "text": "x"},
                   {"type": "image_url", "image_url": {"url": "https://localhost:9/a.png"},
                    "role": "first_frame"}]
        t = self.run_task(metadata={"resolution": "480p", "ratio": "16:9", "content": content})
        self.assertEqual(t["error"]["code"], "image_fetch_failed", t)
        self.assertIn("metadata.content[1].image_url.url", t["error"]["message"])
        self.assertIn("localhost", t["error"]["message"])

    # -- 16: the OpenAI surface after a delete, and a non-image upload -------------------------
    def test_openai_deleted_video_is_404(self):
        st, _, v = self.srv.api("POST", "/v1/videos", {"model": FAST, "prompt": "x",
                                                       "seconds": "4", "size": "864x496"},
                                key=self.key)
        self.assertEqual(st, 200, v)
        self.srv.wait_task(v["id"], self.key)
        st, _, d = self.srv.api("DELETE", "/v1/videos/" + v["id"], key=self.key)
        self.assertEqual((st, d.get("deleted")), (200, True), d)
        st, _, j = self.srv.api("GET", "/v1/videos/" + v["id"], key=self.key)
        self.assertEqual(st, 404, j)
        self.assertEqual(j["error"]["code"], "video_not_found")
        st, _, j = self.srv.api("DELETE", "/v1/videos/" + v["id"], key=self.key)
        self.assertEqual(st, 404, j)
        st, _, j = self.srv.api("GET", "/v1/videos/%s/content" % v["id"], key=self.key)
        self.assertEqual(st, 410, j)  # the content route keeps its 410
        st, _, t = self.srv.api("GET", "/v1/video/generations/" + v["id"], key=self.key)
        self.assertEqual((st, t["status"]), (200, "completed"))  # the native object stays

    def test_openai_non_image_upload_says_what_it_is(self):
        cases = [(b"%PDF-1.4\n" + b"x" * 200, "application/pdf", "PDF document"),
                 (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video/mp4", "MP4"),
                 (os.urandom(64), "application/octet-stream", "unrecognised data")]
        for data, ctype, what in cases:
            with self.subTest(what=what):
                body, ct = multipart([("model", FAST), ("prompt", "x"), ("seconds", "4")],
                                     [("input_reference", "ref.bin", ctype, data)])
                st, _, j = self.srv.api("POST", "/v1/videos", key=self.key, raw_body=body,
                                        headers={"Content-Type": ct})
                self.assertEqual(st, 400, j)
                msg = j["error"]["message"]
                self.assertEqual(j["error"]["param"], "input_reference")
                self.assertIn(what, msg)
                self.assertIn("JPEG, PNG", msg)

    # -- 13: who may use which route ----------------------------------------------------------
    def test_permissions(self):
        for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys"),
                             ("GET", "/admin/tasks"), ("GET", "/admin/usage")):
            with self.subTest(path=path):
                st, _, j = self.srv.api(method, path, {} if method == "POST" else None,
                                        key=self.key)
                self.assertEqual((st, j["error"]["code"]), (403, "permission_denied"), j)
        st, _, j = self.srv.api("GET", "/admin/keys", key="sk-not-a-key")
        self.assertEqual(st, 401, j)
        admin = self.srv.admin_key
        st, _, j = self.srv.submit(admin)
        self.assertEqual((st, j["error"]["code"]), (403, "permission_denied"), j)
        self.assertIn("admin key cannot create tasks", j["error"]["message"])
        st, _, j = self.srv.api("POST", "/v1/videos", {"model": FAST, "prompt": "x"}, key=admin)
        self.assertEqual(st, 403, j)
        st, _, lst = self.srv.api("GET", "/admin/keys", key=admin)
        roles = {k["name"]: k.get("role") for k in lst["data"]}
        self.assertEqual((roles.get("admin"), roles.get("hardening")), ("admin", "user"))
        st, _, me = self.srv.api("GET", "/v1/me", key=admin)
        self.assertEqual((st, me.get("role")), (200, "admin"))

    # -- 15: vidgate generate checks where it will write before it submits --------------------
    def cli(self, *args, cwd=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        env.update({"VIDGATE_BASE_URL": self.srv.base_url, "VIDGATE_API_KEY": self.cli_key})
        return subprocess.run([VIDGATE] + list(args), cwd=cwd or self.tmp, env=env,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def tasks_of_cli_key(self):
        st, _, j = self.srv.api("GET", "/v1/video/generations", key=self.cli_key)
        return j["data"]

    def test_generate_checks_the_output_first(self):
        _, self.cli_key = self.srv.new_key("cli-out", "10.00")
        small = ["--resolution", "480p", "--seconds", "4"]
        p = self.cli("generate", "--prompt", "x", "-o", "/nonexistent/x.mp4", *small)
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("/nonexistent/x.mp4", p.stderr)
        self.assertEqual(self.tasks_of_cli_key(), [], "a task was submitted")
        p = self.cli("generate", "--prompt", "x", "-o", self.tmp, *small)
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertEqual(self.tasks_of_cli_key(), [])
        # The output's directory goes away while the task renders: the error says how to
        # download the finished task.
        out_dir = os.path.join(self.tmp, "vanishing")
        os.mkdir(out_dir)

        def remove_when_submitted():
            deadline = time.time() + 60
            while time.time() < deadline and not self.tasks_of_cli_key():
                time.sleep(0.02)
            shutil.rmtree(out_dir, True)
        th = threading.Thread(target=remove_when_submitted)
        th.start()
        p = self.cli("generate", "--prompt", "x", "-o", os.path.join(out_dir, "x.mp4"), *small)
        th.join()
        self.assertEqual(p.returncode, 6, p.stderr)
        tid = self.tasks_of_cli_key()[0]["id"]
        self.assertIn("vidgate download %s -o" % tid, p.stderr)

    # -- 14: links built on an unspecified address are warned about ---------------------------
    def test_warns_about_links_on_unspecified_address(self):
        srv = Server(args=["--listen", "0.0.0.0:%d" % harness.free_port()], start=False)
        srv.port = int(srv.args[1].rsplit(":", 1)[1])
        srv.base_url = "http://127.0.0.1:%d" % srv.port
        srv.start()
        try:
            self.assertRegex(srv.log_text(), r"WARN.*public_url")
        finally:
            srv.close()

    # -- 8: nothing in the data directory is readable by others --------------------------------
    def test_data_directory_modes(self):
        data = tempfile.mkdtemp(prefix="vg-modes-")
        os.chmod(data, 0o755)
        srv = Server(data_dir=data)
        try:
            _, k = srv.new_key("modes", "10.00")
            st, _, j = srv.submit(k, images=[data_url(png_bytes(320, 180))],
                                  metadata={"resolution": "480p", "return_last_frame": True})
            self.assertEqual(st, 200, j)
            self.assertEqual(srv.wait_task(j["id"], k)["status"], "completed")
            self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
            loose = []
            for root, dirs, files in os.walk(data):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    if name.startswith("server-") and name.endswith(".log"):
                        continue  # the harness's own log
                    if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                        loose.append("%s %o" % (os.path.relpath(path, data),
                                                stat.S_IMODE(os.lstat(path).st_mode)))
            names = os.listdir(data)
            if harness.USE_PG:  # the store is the PostgreSQL database: no SQLite file beside it
                self.assertNotIn("vidgate.db", names)
            else:
                self.assertIn("vidgate.db", names)
                self.assertIn("vidgate.db-wal", names)
            self.assertEqual(loose, [])
        finally:
            srv.close()
            shutil.rmtree(data, True)


if __name__ == "__main__":
    unittest.main()
