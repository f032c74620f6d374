"""The Ark upstream, end to end on loopback: the simulator itself (build/ark-sim: protocol,
validation, list filters, delete rules, faults, expiring URLs, callbacks), then vidgated with
channels pointing at it: translation of every request field and content role, each status and
error mapping, failover, Retry-After, no double submission when a submit's reply is lost,
results kept after the upstream's URLs expire, callbacks, test-mode keys, SIGHUP, a restart
mid-flight, and a load test with faults whose size is VG_ARK_SCALE (default 200; the issue's
1,000-task figure comes from VG_ARK_SCALE=1000) and which prints upstream requests per task."""
import base64
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from harness import (BAD_LOG_MARKERS, BUILD, ROOT, VIDGATED, Server, free_port, store_args,
                     wait_for)
from images import png_bytes

SIM = os.path.join(BUILD, "ark-sim")
SIM_KEY = "sim-secret-key"
FAST, PRO = "doubao-seedance-2-0-fast", "doubao-seedance-2-0"
UP_FAST, UP_PRO = "doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-260128"
FINAL = ("completed", "failed", "cancelled")


def micro(s):
    return int(Decimal(s) * 1000000)


def tokens(w, h, s):
    return w * h * (24 * s + 1) // 1024


def data_png(w, h):
    return "data:image/png;base64," + base64.b64encode(png_bytes(w, h)).decode()


class Sim:
    """A running ark-sim on a free loopback port."""

    def __init__(self, queue_ms=200, run_ms=800, faults=None, callbacks=False, extra=()):
        self.port = free_port()
        self.data = tempfile.mkdtemp(prefix="vg-sim-")
        self.log_path = os.path.join(self.data, "sim.log")
        cmd = [SIM, "--listen", "127.0.0.1:%d" % self.port, "--data", self.data, "--key", SIM_KEY,
               "--queue-ms", str(queue_ms), "--run-ms", str(run_ms), "--video", "tiny"]
        if faults:
            cmd += ["--faults", faults]
        if callbacks:
            cmd.append("--callback-allow-private")
        cmd += list(extra)
        env = dict(os.environ)
        env.update({"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                    "LSAN_OPTIONS": "suppressions=" + os.path.join(ROOT, "tests", "lsan.supp"),
                    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("ark-sim did not start:\n" + self.log_text())

    @property
    def base(self):
        return "http://127.0.0.1:%d/api/v3" % self.port

    def call(self, method, path, body=None, headers=None, key=SIM_KEY, timeout=10):
        url = path if path.startswith("http") else "http://127.0.0.1:%d%s" % (self.port, path)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            hdrs["Content-Type"] = "application/json"
        if key:
            hdrs["Authorization"] = "Bearer " + key
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw, status, h = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            raw, status, h = e.read(), e.code, e.headers
        try:
            return status, h, json.loads(raw.decode())
        except ValueError:
            return status, h, raw

    def tasks_path(self, suffix=""):
        return "/api/v3/contents/generations/tasks" + suffix

    def stats(self, detail=False):
        with urllib.request.urlopen("http://127.0.0.1:%d/sim/stats%s" %
                                    (self.port, "?detail=1" if detail else ""), timeout=5) as r:
            return json.loads(r.read().decode())

    def set_faults(self, spec):
        st, _, j = self.call("POST", "/sim/faults", {"faults": spec}, key=None)
        assert st == 200, j

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()
        text = self.log_text()
        for marker in BAD_LOG_MARKERS:
            if marker in text:
                raise AssertionError("sanitizer report in the simulator log:\n" + text[-6000:])
        if self.proc.returncode != 0:
            raise AssertionError("ark-sim exited with %s:\n%s" % (self.proc.returncode, text[-3000:]))


def channel(sim, name="ark-a", **extra):
    c = {"name": name, "type": "ark", "base_url": sim.base if sim else "http://127.0.0.1:9/api/v3",
         "api_key_env": "ARK_KEY", "models": {FAST: UP_FAST, PRO: UP_PRO}, "timeout_ms": 1500,
         "expected_s": 1}
    c.update(extra)
    return c


def start_vidgate(channels, env=None, callbacks=False, config_extra=None):
    e = {"ARK_KEY": SIM_KEY, "VIDGATE_UPSTREAM_POLL_MIN_MS": "200",
         "VIDGATE_UPSTREAM_POLL_MAX_MS": "1000"}
    e.update(env or {})
    srv = Server(env=e, start=False)
    if callbacks:
        srv.env["VIDGATE_PUBLIC_URL"] = srv.base_url
    conf = {"channels": channels}
    conf.update(config_extra or {})
    srv.config_path = os.path.join(srv.data, "vidgate.json")
    with open(srv.config_path, "w") as f:
        json.dump(conf, f)
    srv.args = ["--config", srv.config_path]
    srv.start()
    return srv


def upstream_row(srv, task_id):
    rows = srv.sql_dicts("SELECT u.*, t.channel AS task_channel FROM upstream_tasks u JOIN tasks t "
                         "ON t.id = u.task_id WHERE task_id = ?", (task_id,))
    return rows[0] if rows else None


def attempts(srv, task_id):
    return srv.sql_dicts("SELECT * FROM upstream_attempts WHERE task_id = ? ORDER BY started_at",
                         (task_id,))


def check_money(srv):
    r = subprocess.run([VIDGATED, "check", "--data", srv.data] + store_args(srv.data),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def ledger_kinds(srv, key_id, task_id):
    st, _, j = srv.api("GET", "/admin/keys/%s/ledger?limit=100" % key_id, key=srv.admin_key)
    return sorted(r["kind"] for r in j["data"] if r["task_id"] == task_id)


# ---------------------------------------------------------------------------------------------
# The simulator on its own
# ---------------------------------------------------------------------------------------------

class _Callbacks(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        _Callbacks.got.append((self.path, json.loads(self.rfile.read(n).decode())))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class SimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(queue_ms=300, run_ms=700, callbacks=True)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def create(self, body=None, headers=None, key=SIM_KEY, **over):
        b = body or {"model": UP_PRO, "content": [{"type": "text", "text": "a harbour at dawn"}],
                     "resolution": "720p", "ratio": "16:9", "duration": 5}
        b.update(over)
        return self.sim.call("POST", self.sim.tasks_path(), b, headers=headers, key=key)

    def get(self, tid):
        return self.sim.call("GET", self.sim.tasks_path("/" + tid))

    def test_auth_and_errors(self):
        st, _, j = self.create(key=None)
        self.assertEqual((st, j["error"]["code"], j["error"]["type"]),
                         (401, "AuthenticationError", "Unauthorized"))
        st, _, j = self.create(key="wrong")
        self.assertEqual(st, 401)
        self.assertEqual(set(j["error"].keys()), {"code", "message", "param", "type"})
        cases = [({"model": None}, 400, "MissingParameter", "model"),
                 ({"model": "doubao-seedance-9-0"}, 404, "InvalidEndpointOrModel.NotFound", "model"),
                 ({"duration": 20}, 400, "InvalidParameter", "duration"),
                 ({"resolution": "2k"}, 400, "InvalidParameter", "resolution"),
                 ({"seed": -2}, 400, "InvalidParameter", "seed"),
                 ({"unknown_flag": True}, 400, "InvalidParameter", "unknown_flag"),
                 ({"model": UP_FAST, "resolution": "1080p"}, 400, "InvalidParameter", "resolution"),
                 ({"content": [{"type": "text", "text": "x"},
                               {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3"},
                                "role": "reference_audio"}]}, 400, "InvalidParameter", "content")]
        for over, status, code, param in cases:
            body = {"model": UP_PRO, "content": [{"type": "text", "text": "x"}]}
            body.update(over)
            body = {k: v for k, v in body.items() if v is not None}
            st, _, j = self.sim.call("POST", self.sim.tasks_path(), body)
            self.assertEqual((st, j["error"]["code"], j["error"]["param"]), (status, code, param),
                             over)
            self.assertEqual(j["error"]["type"], "BadRequest" if status == 400 else "NotFound")
        st, _, j = self.sim.call("POST", self.sim.tasks_path(), b"{not json")
        self.assertEqual((st, j["error"]["code"]), (400, "InvalidParameter"))

    def test_lifecycle_usage_and_files(self):
        st, _, j = self.create(return_last_frame=True, seed=-1)
        self.assertEqual(st, 200, j)
        self.assertRegex(j["id"], r"^cgt-\d{14}-[0-9a-z]{5}$")
        tid = j["id"]
        t = self.get(tid)[2]
        self.assertEqual(t["status"], "queued")
        self.assertIsNone(t["error"])
        self.assertNotIn("content", t)
        wait_for(lambda: self.get(tid)[2]["status"] == "running", 5, "running")
        t = wait_for(lambda: (lambda x: x if x["status"] == "succeeded" else None)(self.get(tid)[2]),
                     10, "succeeded")
        self.assertEqual(t["usage"]["completion_tokens"], tokens(1280, 720, 5))
        self.assertEqual(t["usage"]["completion_tokens"], 108900)
        self.assertEqual((t["resolution"], t["ratio"], t["duration"], t["framespersecond"]),
                         ("720p", "16:9", 5, 24))
        self.assertTrue(0 <= t["seed"] < 2 ** 32)
        self.assertGreaterEqual(t["updated_at"], t["created_at"])
        with urllib.request.urlopen(t["content"]["video_url"], timeout=10) as r:
            video = r.read()
        self.assertEqual(video[4:8], b"ftyp")
        with urllib.request.urlopen(t["content"]["last_frame_url"], timeout=10) as r:
            self.assertEqual(r.read()[:4], b"\x89PNG")
        tampered = t["content"]["video_url"].replace("sig=", "sig=0")
        self.assertEqual(self.sim.call("GET", tampered, key=None)[0], 403)
        # URLs expire: the file is refused and later polls omit content.
        self.assertEqual(self.sim.call("POST", "/sim/expire-urls", {}, key=None)[0], 200)
        self.assertEqual(self.sim.call("GET", t["content"]["video_url"], key=None)[0], 403)
        self.assertNotIn("content", self.get(tid)[2])
        self.assertIn("usage", self.get(tid)[2])

    def test_list_filters_and_paging(self):
        ids = [self.create(safety_identifier="list-%d" % i)[2]["id"] for i in range(5)]
        q = "?page_size=10&" + "&".join("filter.task_ids=" + i for i in ids[:3])
        st, _, j = self.sim.call("GET", self.sim.tasks_path(q))
        self.assertEqual(st, 200)
        self.assertEqual(sorted(x["id"] for x in j["items"]), sorted(ids[:3]))
        self.assertEqual(j["total"], 3)
        self.assertIn("failure_reason", j["items"][0])  # list items name the error so
        self.assertNotIn("error", j["items"][0])
        q = "?page_size=2&page_num=2&" + "&".join("filter.task_ids=" + i for i in ids)
        j = self.sim.call("GET", self.sim.tasks_path(q))[2]
        self.assertEqual((j["total"], len(j["items"])), (5, 2))
        self.assertEqual([x["id"] for x in j["items"]], [ids[2], ids[1]])  # newest first
        j = self.sim.call("GET", self.sim.tasks_path("?filter.model=%s&page_size=500" % UP_FAST))[2]
        self.assertTrue(all(x["model"] == UP_FAST for x in j["items"]))
        j = self.sim.call("GET", self.sim.tasks_path("?filter.status=queued&" + "&".join(
            "filter.task_ids=" + i for i in ids)))[2]
        self.assertTrue(all(x["status"] == "queued" for x in j["items"]))
        for bad in ("page_size=501", "page_num=0", "filter.status=done", "page_size=x"):
            st, _, j = self.sim.call("GET", self.sim.tasks_path("?" + bad))
            self.assertEqual((st, j["error"]["code"]), (400, "InvalidParameter"), bad)

    def test_delete_rules(self):
        tid = self.create()[2]["id"]
        st, _, j = self.sim.call("DELETE", self.sim.tasks_path("/" + tid))
        self.assertEqual((st, j), (200, {}))
        self.assertEqual(self.get(tid)[2]["status"], "cancelled")
        tid = self.create()[2]["id"]
        wait_for(lambda: self.get(tid)[2]["status"] == "running", 5, "running")
        st, _, j = self.sim.call("DELETE", self.sim.tasks_path("/" + tid))
        self.assertEqual(st, 409, j)
        wait_for(lambda: self.get(tid)[2]["status"] == "succeeded", 10, "succeeded")
        self.assertEqual(self.sim.call("DELETE", self.sim.tasks_path("/" + tid))[0], 200)
        self.assertEqual(self.get(tid)[0], 404)  # a finished task's record is deleted
        self.assertEqual(self.sim.call("DELETE", self.sim.tasks_path("/cgt-nope"))[0], 404)

    def test_faults_on_demand(self):
        st, h, j = self.create(headers={"X-Sim-Fault": "429 retry_after=3"})
        self.assertEqual((st, h.get("Retry-After"), j["error"]["code"]),
                         (429, "3", "RateLimitExceeded.EndpointRPMExceeded"))
        self.assertEqual(self.create(headers={"X-Sim-Fault": "503"})[0], 503)
        before = self.sim.stats()["tasks"]
        st, _, raw = self.create(headers={"X-Sim-Fault": "malformed"})
        self.assertEqual(st, 200)
        self.assertIsInstance(raw, bytes)  # not JSON
        self.assertEqual(self.sim.stats()["tasks"], before + 1)  # but the task exists
        for kind, created in (("drop", 0), ("lost", 1)):
            before = self.sim.stats()["tasks"]
            with self.assertRaises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
                self.create(headers={"X-Sim-Fault": kind})
            self.assertEqual(self.sim.stats()["tasks"], before + created, kind)
        t0 = time.time()
        with self.assertRaises((socket.timeout, urllib.error.URLError, TimeoutError)):
            self.sim.call("POST", self.sim.tasks_path(), {"model": UP_PRO, "content": [
                {"type": "text", "text": "x"}]}, headers={"X-Sim-Fault": "timeout ms=3000"},
                timeout=1)
        self.assertLess(time.time() - t0, 2.5)
        t0 = time.time()
        st, _, _ = self.create(headers={"X-Sim-Fault": "latency ms=400"})
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.time() - t0, 0.35)
        tid = self.create(content=[{"type": "text", "text": "bad luck [sim:sensitive]"}])[2]["id"]
        t = wait_for(lambda: (lambda x: x if x["status"] == "failed" else None)(self.get(tid)[2]),
                     10, "failed")
        self.assertEqual(t["error"]["code"], "OutputVideoSensitiveContentDetected")
        self.assertNotIn("usage", t)
        st = self.sim.stats()
        self.assertGreaterEqual(st["faults"]["429"], 1)
        self.assertGreaterEqual(st["operations"]["create"]["no_reply"], 2)

    def test_queued_task_limit(self):
        sim = Sim(queue_ms=5000, run_ms=100, extra=("--max-queued", "1"))
        try:
            body = {"model": UP_FAST, "content": [{"type": "text", "text": "x"}]}
            self.assertEqual(sim.call("POST", sim.tasks_path(), body)[0], 200)
            st, h, j = sim.call("POST", sim.tasks_path(), body)
            self.assertEqual((st, j["error"]["code"], h.get("Retry-After")),
                             (429, "RateLimitExceeded.QueuedTasks", "5"))
        finally:
            sim.close()

    def test_callbacks(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Callbacks)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            _Callbacks.got = []
            url = "http://127.0.0.1:%d/cb/1" % httpd.server_address[1]
            tid = self.create(callback_url=url)[2]["id"]
            wait_for(lambda: any(b["status"] == "succeeded" for _, b in _Callbacks.got), 10,
                     "the succeeded callback")
            statuses = [b["status"] for p, b in _Callbacks.got if b["id"] == tid]
            self.assertEqual(statuses, ["running", "succeeded"])
            self.assertTrue(all(p == "/cb/1" for p, _ in _Callbacks.got))
        finally:
            httpd.shutdown()


# ---------------------------------------------------------------------------------------------
# vidgated through an ark channel
# ---------------------------------------------------------------------------------------------

class ArkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(queue_ms=200, run_ms=600)
        cls.srv = start_vidgate([channel(cls.sim)])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.close()
        finally:
            cls.sim.close()

    def tearDown(self):
        # Every test leaves the books exact, whichever tests ran before it.
        code, out = check_money(self.srv)
        self.assertEqual(code, 0, out)

    def submit(self, key, **fields):
        body = {"model": FAST, "prompt": "a test scene", "seconds": "4",
                "metadata": {"resolution": "480p", "ratio": "16:9"}}
        body.update(fields)
        st, _, j = self.srv.api("POST", "/v1/video/generations", body, key=key)
        self.assertEqual(st, 200, j)
        return j["id"]

    def sim_request(self, task_id):
        row = upstream_row(self.srv, task_id)
        st, _, j = self.sim.call("GET", "/sim/requests/" + row["upstream_id"], key=None)
        self.assertEqual(st, 200, j)
        return j

    def test_translation_of_every_field(self):
        kid, key = self.srv.new_key("translate", "20.00")
        first, last = data_png(640, 480), data_png(640, 480)
        tid = self.submit(key, model=PRO, prompt="镜头缓缓推进 / push in", seconds=6, metadata={
            "resolution": "720p", "ratio": "4:3", "seed": 77, "generate_audio": False,
            "return_last_frame": True, "watermark": True, "camera_fixed": True,
            "content": [{"type": "image_url", "image_url": {"url": first}, "role": "first_frame"},
                        {"type": "image_url", "image_url": {"url": last}, "role": "last_frame"}]})
        t = self.srv.wait_task(tid, key, timeout=60)
        self.assertEqual(t["status"], "completed", t)
        req = self.sim_request(tid)
        self.assertEqual(req["model"], UP_PRO)
        self.assertEqual((req["resolution"], req["ratio"], req["duration"], req["seed"]),
                         ("720p", "4:3", 6, 77))
        self.assertEqual((req["generate_audio"], req["return_last_frame"], req["watermark"],
                          req["camera_fixed"]), (False, True, True, True))
        self.assertEqual(req["content"][0], {"type": "text", "text": "镜头缓缓推进 / push in"})
        self.assertEqual(req["content"][1], {"type": "image_url", "image_url": {"url": first},
                                             "role": "first_frame"})
        self.assertEqual(req["content"][2]["role"], "last_frame")
        self.assertNotIn("callback_url", req)  # no public_url configured
        self.assertEqual(req["execution_expires_after"], 172800)
        self.assertTrue(req["safety_identifier"].startswith(kid + "."))
        # usage and cost at the produced tier: 720p 4:3 6 s, 7.0 per 1M
        n = tokens(1112, 834, 6)
        self.assertEqual(t["usage"]["completion_tokens"], n)
        self.assertEqual(micro(t["cost"]), -(-n * 7000000 // 1000000))
        self.assertEqual((t["size"], t["seed"], t["mode"]), ("1112x834", 77, "live"))
        self.assertEqual(sorted(ledger_kinds(self.srv, kid, tid)), ["capture", "hold", "release"])
        r = self.srv.request("GET", "/v1/videos/%s/content" % tid, key=key)
        self.assertEqual((r.status, r.body[4:8]), (200, b"ftyp"))
        r = self.srv.request("GET", "/v1/videos/%s/content?variant=last_frame" % tid, key=key)
        self.assertEqual((r.status, r.body[:4]), (200, b"\x89PNG"))
        r = self.srv.request("GET", "/v1/videos/%s/content?variant=thumbnail" % tid, key=key)
        self.assertEqual((r.status, r.body[:3]), (200, b"\xff\xd8\xff"))  # made from the video
        row = upstream_row(self.srv, tid)
        self.assertEqual((row["task_channel"], row["open"], row["upstream_status"]),
                         ("ark-a", 0, "succeeded"))
        self.assertEqual([a["outcome"] for a in attempts(self.srv, tid)], ["accepted"])

    def test_translation_of_reference_roles(self):
        kid, key = self.srv.new_key("refs", "20.00")
        content = [
            {"type": "image_url", "image_url": {"url": "https://assets.example.com/a.png"},
             "role": "reference_image"},
            {"type": "image_url", "image_url": {"url": data_png(400, 400)},
             "role": "reference_image"},
            {"type": "video_url", "video_url": {"url": "https://assets.example.com/v.mp4"},
             "role": "reference_video"},
            {"type": "audio_url", "audio_url": {"url": "https://assets.example.com/a.mp3"},
             "role": "reference_audio"}]
        tid = self.submit(key, model=PRO, seconds="5",
                          metadata={"resolution": "480p", "ratio": "1:1", "content": content})
        t = self.srv.wait_task(tid, key, timeout=60)
        self.assertEqual(t["status"], "completed", t)
        req = self.sim_request(tid)
        self.assertEqual([(c["type"], c.get("role")) for c in req["content"]],
                         [("text", None), ("image_url", "reference_image"),
                          ("image_url", "reference_image"), ("video_url", "reference_video"),
                          ("audio_url", "reference_audio")])
        self.assertEqual(req["content"][3]["video_url"]["url"], "https://assets.example.com/v.mp4")
        n = tokens(640, 640, 5)
        self.assertEqual(micro(t["cost"]), -(-n * 4300000 // 1000000))  # price with video input

    def test_image_asset_travels_inline(self):
        kid, key = self.srv.new_key("assets", "5.00")
        png = png_bytes(400, 300)
        st, _, j = self.srv.api("POST", "/v1/seedance/asset/CreateAsset", {
            "Name": "frame", "AssetType": "Image", "Data": base64.b64encode(png).decode()},
            key=key)
        self.assertEqual(st, 200, j)
        aid = j["Result"]["Id"]
        wait_for(lambda: self.srv.api("POST", "/v1/seedance/asset/GetAsset", {"Id": aid},
                                      key=key)[2]["Result"]["Status"] == "Active", 30, "Active")
        tid = self.submit(key, metadata={"resolution": "480p", "content": [
            {"type": "image_url", "image_url": {"url": "asset://" + aid}, "role": "first_frame"}]})
        t = self.srv.wait_task(tid, key, timeout=60)
        self.assertEqual(t["status"], "completed", t)
        sent = self.sim_request(tid)["content"][1]["image_url"]["url"]
        self.assertEqual(sent, "data:image/png;base64," + base64.b64encode(png).decode())
        self.assertEqual(t["ratio"], "4:3")  # adaptive followed the asset's first frame

    def test_upstream_refusal_fails_and_refunds(self):
        kid, key = self.srv.new_key("refused", "5.00")
        # A first frame the local engine would take but Ark refuses (sides under 300 px).
        tid = self.submit(key, images=[data_png(120, 90)])
        t = self.srv.wait_task(tid, key, timeout=30)
        self.assertEqual((t["status"], t["error"]["code"]), ("failed", "InvalidParameter"), t)
        self.assertIn("300", t["error"]["message"])
        me = self.srv.api("GET", "/v1/me", key=key)[2]
        self.assertEqual((me["balance"], me["held"]), ("5.000000", "0.000000"))
        self.assertEqual(ledger_kinds(self.srv, kid, tid), ["hold", "release"])
        self.assertEqual([a["outcome"] for a in attempts(self.srv, tid)], ["refused"])
        self.assertEqual(attempts(self.srv, tid)[0]["http_status"], 400)

    def test_upstream_failures_map_to_final_statuses(self):
        kid, key = self.srv.new_key("fails", "5.00")
        sensitive = self.submit(key, prompt="something [sim:sensitive]")
        expired = self.submit(key, prompt="too slow [sim:expire]")
        t = self.srv.wait_task(sensitive, key, timeout=30)
        self.assertEqual((t["status"], t["error"]["code"], t["cost"]),
                         ("failed", "OutputVideoSensitiveContentDetected", None))
        t = self.srv.wait_task(expired, key, timeout=30)
        self.assertEqual((t["status"], t["error"]["code"]), ("failed", "expired"))
        for tid in (sensitive, expired):
            self.assertEqual(ledger_kinds(self.srv, kid, tid), ["hold", "release"])
        me = self.srv.api("GET", "/v1/me", key=key)[2]
        self.assertEqual((me["balance"], me["held"]), ("5.000000", "0.000000"))

    def test_cancel_paths(self):
        kid, key = self.srv.new_key("cancels", "5.00")
        # Our cancel of a task still queued upstream cancels it upstream too.
        tid = self.submit(key, prompt="slow one [sim:slow]")
        row = wait_for(lambda: (lambda r: r if r and r["upstream_id"] else None)(
            upstream_row(self.srv, tid)), 10, "acceptance")
        st, _, t = self.srv.api("DELETE", "/v1/video/generations/" + tid, key=key)
        self.assertEqual((st, t["status"]), (200, "cancelled"), t)
        # Cancelled upstream; on a busy machine the cleanup may already have deleted the
        # cancelled record (404) by the time this looks.
        wait_for(lambda: (lambda r: r[0] == 404 or r[2].get("status") == "cancelled")(
            self.sim.call("GET", self.sim.tasks_path("/" + row["upstream_id"]))), 10,
            "the upstream cancel")
        wait_for(lambda: upstream_row(self.srv, tid)["open"] == 0, 10, "cleanup")
        self.assertEqual(ledger_kinds(self.srv, kid, tid), ["hold", "release"])
        # Cancelled upstream (by someone else) → cancelled here.
        tid = self.submit(key, prompt="slow two [sim:slow]")
        row = wait_for(lambda: (lambda r: r if r and r["upstream_id"] else None)(
            upstream_row(self.srv, tid)), 10, "acceptance")
        self.assertEqual(self.sim.call("DELETE", self.sim.tasks_path("/" + row["upstream_id"]))[0],
                         200)
        t = self.srv.wait_task(tid, key, timeout=20)
        self.assertEqual((t["status"], t["error"]["code"]), ("cancelled", "cancelled"))
        # Running upstream → our DELETE answers 409, and the task still completes.
        tid = self.submit(key, prompt="slow three [sim:slow]")
        wait_for(lambda: self.srv.api("GET", "/v1/video/generations/" + tid, key=key)[2]
                 ["status"] == "running", 20, "running")
        st, _, e = self.srv.api("DELETE", "/v1/video/generations/" + tid, key=key)
        self.assertEqual((st, e["error"]["code"]), (409, "task_not_cancellable"))
        self.assertEqual(self.srv.wait_task(tid, key, timeout=30)["status"], "completed")

    def test_results_survive_upstream_url_expiry(self):
        kid, key = self.srv.new_key("keep", "5.00")
        tid = self.submit(key)
        t = self.srv.wait_task(tid, key, timeout=30)
        self.assertEqual(t["status"], "completed")
        ours = self.srv.request("GET", "/v1/videos/%s/content" % tid, key=key).body
        up = self.sim.call("GET", self.sim.tasks_path("/" + upstream_row(self.srv, tid)
                                                       ["upstream_id"]))[2]
        url = up["content"]["video_url"]
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.read(), ours)
        self.sim.call("POST", "/sim/expire-urls", {}, key=None)
        self.assertEqual(self.sim.call("GET", url, key=None)[0], 403)
        r = self.srv.request("GET", "/v1/videos/%s/content" % tid, key=key)
        self.assertEqual((r.status, r.body), (200, ours))
        r = self.srv.request("GET", t["output"]["video_url"])  # presigned, no key
        self.assertEqual((r.status, r.body), (200, ours))

    def test_test_mode_keys_stay_local_and_free(self):
        st, _, k = self.srv.api("POST", "/admin/keys", {"name": "tester", "balance": "0.00",
                                                        "mode": "test"}, key=self.srv.admin_key)
        self.assertEqual(st, 201, k)
        before = self.sim.stats()["operations"]["create"]["requests"]
        tid = self.submit(k["key"])
        t = self.srv.wait_task(tid, k["key"], timeout=60)
        self.assertEqual((t["status"], t["mode"], t["cost"]), ("completed", "test", "0.000000"))
        self.assertEqual(self.sim.stats()["operations"]["create"]["requests"], before)
        row = self.srv.sql_dicts("SELECT channel, hold_micro FROM tasks WHERE id = ?", (tid,))[0]
        self.assertEqual((row["channel"], row["hold_micro"]), ("local", 0))
        me = self.srv.api("GET", "/v1/me", key=k["key"])[2]
        self.assertEqual((me["mode"], me["balance"], me["held"]), ("test", "0.000000", "0.000000"))

    def test_money_is_exact_for_every_outcome(self):
        # Its own key and tasks, one per way a task can end, so the audit has money to check
        # whatever ran before (tearDown audits after every other test as well).
        kid, key = self.srv.new_key("audit", "5.00")
        done = self.submit(key, prompt="audit: completes")
        refused = self.submit(key, prompt="audit: refused", images=[data_png(120, 90)])
        failed = self.submit(key, prompt="audit: fails [sim:sensitive]")
        cancelled = self.submit(key, prompt="audit: cancelled [sim:slow]")
        st, _, t = self.srv.api("DELETE", "/v1/video/generations/" + cancelled, key=key)
        self.assertEqual((st, t["status"]), (200, "cancelled"), t)
        ends = {tid: self.srv.wait_task(tid, key, timeout=60)["status"]
                for tid in (done, refused, failed, cancelled)}
        self.assertEqual([ends[t] for t in (done, refused, failed, cancelled)],
                         ["completed", "failed", "failed", "cancelled"])
        self.assertEqual(sorted(ledger_kinds(self.srv, kid, done)), ["capture", "hold", "release"])
        for tid in (refused, failed, cancelled):
            self.assertEqual(ledger_kinds(self.srv, kid, tid), ["hold", "release"])
        code, out = check_money(self.srv)
        self.assertEqual(code, 0, out)
        self.assertIn(" 0 difference(s)", out)


class ChannelsTest(unittest.TestCase):
    """Failover, Retry-After, no double submission, SIGHUP, restart, model routing."""

    @classmethod
    def setUpClass(cls):
        cls.sims = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.sims:
            s.close()

    def new_sim(self, **kw):
        s = Sim(**kw)
        self.sims.append(s)
        return s

    def submit(self, srv, key, **fields):
        body = {"model": FAST, "prompt": "a test scene", "seconds": "4",
                "metadata": {"resolution": "480p", "ratio": "16:9"}}
        body.update(fields)
        st, _, j = srv.api("POST", "/v1/video/generations", body, key=key)
        self.assertEqual(st, 200, j)
        return j["id"]

    def test_failover_to_a_second_channel(self):
        bad = self.new_sim(faults="503 on=create")
        good = self.new_sim()
        srv = start_vidgate([channel(None, "down", priority=30),  # nothing listens there
                             channel(bad, "busy", priority=20),
                             channel(good, "spare", priority=10)])
        try:
            kid, key = srv.new_key("failover", "5.00")
            ids = [self.submit(srv, key, prompt="failover %d" % i) for i in range(3)]
            for tid in ids:
                self.assertEqual(srv.wait_task(tid, key, timeout=60)["status"], "completed")
                outcomes = [(a["channel"], a["outcome"]) for a in attempts(srv, tid)]
                self.assertEqual(outcomes[-1], ("spare", "accepted"), outcomes)
                self.assertEqual(upstream_row(srv, tid)["task_channel"], "spare")
            self.assertGreaterEqual(bad.stats()["operations"]["create"]["5xx"], 1)
            self.assertEqual(bad.stats()["tasks"], 0)
            self.assertEqual(good.stats()["tasks"], 3)
            self.assertEqual(check_money(srv)[0], 0)
        finally:
            srv.close()

    def test_retry_after_is_honoured(self):
        sim = self.new_sim(faults="429 on=create n=2 retry_after=2")
        srv = start_vidgate([channel(sim)])
        try:
            kid, key = srv.new_key("patient", "5.00")
            tid = self.submit(srv, key)
            self.assertEqual(srv.wait_task(tid, key, timeout=60)["status"], "completed")
            creates = sim.stats(detail=True)["creates"]
            self.assertEqual([c["status"] for c in creates], [429, 429, 200])
            gaps = [(creates[i + 1]["t_ms"] - creates[i]["t_ms"]) / 1000 for i in range(2)]
            self.assertTrue(all(g >= 1.95 for g in gaps), gaps)
            print("\n  Retry-After 2 s honoured: gaps between creates %s s" %
                  ", ".join("%.2f" % g for g in gaps))
            self.assertEqual([a["outcome"] for a in attempts(srv, tid)],
                             ["transient", "transient", "accepted"])
        finally:
            srv.close()

    def test_no_double_submission_when_the_reply_is_lost(self):
        sim = self.new_sim()
        srv = start_vidgate([channel(sim, timeout_ms=1000)])
        try:
            for fault, created in (("lost on=create n=1", True), ("malformed on=create n=1", True),
                                   ("hang on=create n=1 ms=4000", True),
                                   ("timeout on=create n=1 ms=4000", False),
                                   ("drop on=create n=1", False)):
                sim.set_faults(fault)
                kid, key = srv.new_key("once", "5.00")
                tid = self.submit(srv, key, prompt="exactly once: " + fault)
                t = srv.wait_task(tid, key, timeout=60)
                self.assertEqual(t["status"], "completed", (fault, t))
                mine = [x for x in sim.stats(detail=True)["creates"]
                        if x["token"].startswith(kid + ".")]
                st, _, lst = sim.call("GET", sim.tasks_path("?page_size=500"))
                upstream = [x for x in lst["items"]
                            if x.get("safety_identifier", "").startswith(kid + ".")]
                self.assertEqual(len(upstream), 1, (fault, upstream))
                outcomes = [a["outcome"] for a in attempts(srv, tid)]
                if created:  # found by its client token: one create call in all
                    self.assertEqual(len(mine), 1, (fault, mine))
                    self.assertEqual(outcomes, ["found"], fault)
                else:  # two clean misses, then a second attempt
                    self.assertEqual(len(mine), 2, (fault, mine))
                    self.assertEqual(outcomes, ["not_found", "accepted"], fault)
            self.assertEqual(check_money(srv)[0], 0)
        finally:
            srv.close()

    def test_time_limit_expires_and_refunds(self):
        sim = self.new_sim()
        srv = start_vidgate([channel(sim)], env={"VIDGATE_UPSTREAM_TASK_TTL_S": "3"})
        try:
            kid, key = srv.new_key("stuck", "5.00")
            tid = self.submit(srv, key, prompt="forever [sim:never]")
            t = srv.wait_task(tid, key, timeout=30)
            self.assertEqual((t["status"], t["error"]["code"]), ("failed", "expired"))
            self.assertEqual(ledger_kinds(srv, kid, tid), ["hold", "release"])
            req = sim.call("GET", "/sim/requests/" + upstream_row(srv, tid)["upstream_id"],
                           key=None)[2]
            self.assertEqual(req["execution_expires_after"], 3600)  # Ark's minimum
        finally:
            srv.close()

    def test_model_routing_sighup_and_restart(self):
        a, b = self.new_sim(), self.new_sim(queue_ms=200, run_ms=1500)
        srv = start_vidgate([channel(a, "a", models={PRO: UP_PRO})])
        try:
            kid, key = srv.new_key("routes", "20.00")
            tid = self.submit(srv, key)  # FAST: no channel serves it
            t = srv.wait_task(tid, key, timeout=20)
            self.assertEqual((t["status"], t["error"]["code"]), ("failed", "model_unavailable"))
            with open(srv.config_path, "w") as f:
                json.dump({"channels": [channel(b, "b")]}, f)
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload: 1 channel(s) loaded" in srv.log_text(), 10, "the reload")
            ids = [self.submit(srv, key, prompt="after reload %d" % i) for i in range(4)]
            wait_for(lambda: all((upstream_row(srv, i) or {}).get("upstream_id") for i in ids),
                     20, "acceptance")
            self.assertTrue(all(upstream_row(srv, i)["task_channel"] == "b" for i in ids))
            srv.kill9()
            srv.start()
            for i in ids:
                self.assertEqual(srv.wait_task(i, key, timeout=60)["status"], "completed")
            self.assertEqual(b.stats()["tasks"], 4)  # re-polled, never resubmitted
            self.assertEqual(a.stats()["tasks"], 0)
            self.assertEqual(check_money(srv)[0], 0)
        finally:
            srv.close()

    def test_callbacks_shorten_time_to_complete(self):
        sim = self.new_sim(queue_ms=300, run_ms=1200, callbacks=True)
        # Polling by cycles sees a finished task within one cycle (every cycle until the channel
        # has learnt a run time), and completed_at has whole seconds: a cycle well above the
        # 1.5 s task keeps the polling-only run clearly slower.
        slow_polls = {"VIDGATE_UPSTREAM_POLL_MIN_MS": "5000", "VIDGATE_UPSTREAM_POLL_MAX_MS": "10000"}
        times = {}
        for with_cb in (True, False):
            srv = start_vidgate([channel(sim, expected_s=10)], env=slow_polls, callbacks=with_cb)
            try:
                kid, key = srv.new_key("cb", "5.00")
                t0 = time.time()
                ids = [self.submit(srv, key, prompt="cb %s %d" % (with_cb, i)) for i in range(4)]
                done = [srv.wait_task(i, key, timeout=60) for i in ids]
                self.assertTrue(all(t["status"] == "completed" for t in done))
                times[with_cb] = sum(t["completed_at"] for t in done) / len(done) - t0
                if with_cb:
                    self.assertIn("POST /internal/ark/callback/", srv.log_text())
                    self.assertNotIn("token=", srv.log_text())  # the secret stays out of logs
                    st, _, _ = srv.api("POST", "/internal/ark/callback/%s?token=wrong" % ids[0])
                    self.assertEqual(st, 404)
            finally:
                srv.close()
        print("\n  time to complete (mean of 4, sim 1.5 s): with callbacks %.1f s, polling only "
              "%.1f s" % (times[True], times[False]))
        self.assertLess(times[True], times[False])


class ScaleTest(unittest.TestCase):
    """VG_ARK_SCALE tasks (default 200) through one channel, 10 % of upstream calls faulty."""

    def test_many_tasks_with_faults(self):
        n = int(os.environ.get("VG_ARK_SCALE", "200"))
        sim = Sim(queue_ms=300, run_ms=1500, faults="random p=0.1 on=any")
        srv = start_vidgate([channel(sim, timeout_ms=1000, requests_per_s=50, expected_s=2)],
                            env={"VIDGATE_UPSTREAM_WORKERS": "16",
                                 "VIDGATE_UPSTREAM_POLL_MIN_MS": "300",
                                 "VIDGATE_UPSTREAM_POLL_MAX_MS": "3000"})
        try:
            kid, key = srv.new_key("load", "%d.00" % (n * 2))
            t0 = time.time()
            with ThreadPoolExecutor(max_workers=32) as pool:
                ids = list(pool.map(lambda i: srv.submit(key, prompt="load %d" % i)[2]["id"],
                                    range(n)))
            submitted = time.time() - t0
            deadline = time.time() + 300
            statuses = {}
            while time.time() < deadline:
                statuses = {s: int(c) for s, c in srv.sql(
                    "SELECT status, count(*) FROM tasks WHERE key_id = ? GROUP BY status", (kid,))}
                if sum(statuses.get(s, 0) for s in FINAL) == n:
                    break
                time.sleep(0.5)
            elapsed = time.time() - t0
            self.assertEqual(sum(statuses.get(s, 0) for s in FINAL), n, statuses)
            code, out = check_money(srv)
            self.assertEqual(code, 0, out)
            st = sim.stats()
            accepted = int(srv.sql("SELECT count(*) FROM upstream_tasks WHERE upstream_id != ''")[0][0])
            codes = {e: int(c) for e, c in srv.sql("SELECT error_code, count(*) FROM tasks WHERE "
                                                    "key_id = ? AND status = 'failed' GROUP BY "
                                                    "error_code", (kid,))}
            # Every upstream task belongs to exactly one of ours: nothing was submitted twice.
            self.assertEqual(st["tasks"], accepted)
            ops = st["operations"]
            per = {k: ops[k]["requests"] / n for k in ops}
            print("\n  %d tasks, 10%% faults: all final in %.1f s (submits took %.1f s); %s" %
                  (n, elapsed, submitted, statuses))
            print("  upstream API requests per task: %.2f (create %.2f, list %.2f, get %.2f, "
                  "delete %.2f); result downloads per task %.2f; faults fired %s; failed: %s" %
                  (st["api_requests"] / n, per["create"], per["list"], per["get"], per["delete"],
                   st["video_requests"] / n, st["faults"], codes))
            bp = st["batch_polls"]
            print("  batch polls: %d list calls refreshed %d task states (%.1f per call); status "
                  "polls per task %.2f, of which requests %.3f per task-poll" %
                  (bp["calls"], bp["tasks"], bp["tasks"] / max(1, bp["calls"]), bp["tasks"] / n,
                   bp["calls"] / max(1, bp["tasks"])))
            self.assertLess(per["list"] + per["get"], 3.0)  # batch polling, not a call per poll
            self.assertGreaterEqual(statuses.get("completed", 0), n * 0.8)
        finally:
            try:
                srv.close()
            finally:
                sim.close()


if __name__ == "__main__":
    unittest.main()
