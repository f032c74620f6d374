"""GET /metrics, black-box: every scrape passes `promtool check metrics` (the Prometheus parser and
its lint rules); after known traffic (401s, 404s, submits, local renders, a long-poll, a webhook
delivery) each HTTP series moved by exactly the requests sent, labelled by route template (never
by an id, a key or a secret); tasks by status, the queue, renders in progress, parked long-polls
and money held/captured agree with the tasks' own objects; an Ark channel on ark-sim is counted
per request kind exactly as the simulator counted them, with its cool-down and errors; and
metrics_token (VIDGATE_METRICS_TOKEN) closes the route with a 401 envelope."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from decimal import Decimal

from harness import VIDGATED, Server
from test_ark import FAST, Sim, channel, start_vidgate
from test_webhooks import OPEN, Receiver

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TASK = "/v1/video/generations/{id}"


def micro(s):
    return int(Decimal(s) * 1000000)


class Scrape:
    """One parsed exposition: value(name, **labels), or sum over the series matching labels."""

    def __init__(self, text):
        self.text = text
        self.series = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                raise AssertionError("unparsable sample line: %r" % line)
            labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
            self.series[(m.group(1), labels)] = float(m.group(3))

    def matching(self, name, **labels):
        want = set(labels.items())
        return {lb: v for (n, lb), v in self.series.items() if n == name and want <= set(lb)}

    def value(self, name, **labels):
        return sum(self.matching(name, **labels).values())

    def has(self, name, **labels):
        return bool(self.matching(name, **labels))


def promtool_check(test, text):
    """promtool must accept the exposition without one complaint (parse errors and lint)."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    out = (p.stdout + p.stderr).decode()
    test.assertEqual((p.returncode, out.strip()), (0, ""), "promtool check metrics:\n" + out)


class MetricsTraffic(unittest.TestCase):
    """One server, one render worker, traffic of every kind, exact deltas."""

    @classmethod
    def setUpClass(cls):
        env = dict(OPEN)
        env["VIDGATE_RENDER_WORKERS"] = "1"
        cls.srv = Server(env=env)
        cls.rx = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()
        cls.srv.close()

    def setUp(self):
        self.sent = {}  # (route, method, code) -> requests sent since the first scrape
        self.scrapes = 0

    def scrape(self, headers=None):
        r = self.srv.request("GET", "/metrics", headers=headers)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"),
                        r.headers["content-type"])
        text = r.body.decode()
        promtool_check(self, text)
        self.scrapes += 1
        return Scrape(text)

    def call(self, route, method, path, body=None, key=None, headers=None, timeout=30):
        st, h, j = self.srv.api(method, path, body, key=key, headers=headers, timeout=timeout)
        k = (route, method, str(st))
        self.sent[k] = self.sent.get(k, 0) + 1
        return st, h, j

    def wait_final(self, tid, key, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, t = self.call(TASK, "GET", "/v1/video/generations/" + tid, key=key)
            self.assertEqual(st, 200, t)
            if t["status"] in ("completed", "failed", "cancelled"):
                return t
            time.sleep(0.2)
        raise AssertionError("task %s not final" % tid)

    def eventually(self, pred, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.scrape()
            if pred(s):
                return s
            time.sleep(0.2)
        raise AssertionError("metrics never showed: " + what + "\n" + s.text[-3000:])

    def test_traffic_moves_the_series_by_what_was_sent(self):
        srv = self.srv
        _, _, k = self.call("/admin/keys", "POST", "/admin/keys", {"name": "m", "balance": "50.00"},
                            key=srv.admin_key)
        key_id, key = k["id"], k["key"]
        before = self.scrape()
        self.scrapes = 0
        self.sent = {}

        # 401s: a bad key and no key, on a route with an id in its path
        for i in range(3):
            st, _, j = self.call(TASK, "GET", "/v1/video/generations/task_nope%d" % i,
                                 key="sk-wrong-%d" % i)
            self.assertEqual((st, j["error"]["code"]), (401, "invalid_api_key"))
        self.call(TASK, "GET", "/v1/video/generations/task_nokey")
        # 404s: no route at all, and an unknown task on a real route
        for p in ("/no/such/route", "/v1/nothing-here"):
            self.assertEqual(self.call("unmatched", "GET", p)[0], 404)
        self.assertEqual(self.call(TASK, "GET", "/v1/video/generations/task_unknown1",
                                   key=key)[0], 404)
        # a long render first: with one worker, the next task stays queued behind it
        st, _, a = self.call("/v1/video/generations", "POST", "/v1/video/generations",
                             {"model": FAST, "prompt": "a long pan over the sea", "seconds": "12",
                              "metadata": {"resolution": "720p", "ratio": "16:9"}}, key=key)
        self.assertEqual(st, 200, a)
        st, _, b = self.call("/v1/video/generations", "POST", "/v1/video/generations",
                             {"model": FAST, "prompt": "a short one", "seconds": "4",
                              "callback_url": self.rx.url + "/hook",
                              "metadata": {"resolution": "480p", "ratio": "16:9"}}, key=key)
        self.assertEqual(st, 200, b)
        # a long-poll on the queued task: parked until it starts
        answered = {}

        def longpoll():
            # answered when the render before it ends: 12 s of 720p may take over 30 s on a
            # busy machine, so the client waits as long as the server may
            answered["r"] = self.call(TASK, "GET", "/v1/video/generations/%s?wait=60" % b["id"],
                                      key=key, timeout=90)

        th = threading.Thread(target=longpoll)
        th.start()
        busy = self.eventually(
            lambda s: s.value("vidgate_longpoll_waiting") == 1
            and s.value("vidgate_renders_in_progress") == 1
            and s.value("vidgate_queue_depth") == 1
            and s.value("vidgate_tasks", status="queued") == 1
            and s.value("vidgate_tasks", status="running") == 1,
            "one parked long-poll, one render, one queued task")
        self.assertGreaterEqual(busy.value("vidgate_queue_oldest_age_seconds"), 0)
        self.assertGreater(busy.value("vidgate_money_held", currency="USD"), 0)
        th.join(120)
        self.assertFalse(th.is_alive(), "the long-poll was not answered")
        self.assertEqual(answered["r"][0], 200)
        ta = self.wait_final(a["id"], key)
        tb = self.wait_final(b["id"], key)
        self.assertEqual((ta["status"], tb["status"]), ("completed", "completed"))
        self.rx.wait(lambda h: h["path"] == "/hook")
        after = self.eventually(
            lambda s: s.value("vidgate_webhook_deliveries_total", result="delivered") == 1,
            "the webhook delivery")
        # …and the final figures once nothing moves any more
        after = self.eventually(lambda s: s.value("vidgate_tasks", status="completed") == 2
                                and s.value("vidgate_renders_in_progress") == 0
                                and s.value("vidgate_longpoll_waiting") == 0, "everything final")

        # every HTTP series moved by exactly what this test sent; /metrics by the scrapes from
        # `before` to the one before `after` (a scrape is counted once it is answered)
        sent = dict(self.sent)
        sent[("/metrics", "GET", "200")] = self.scrapes
        for (route, method, code), n in sent.items():
            labels = {"route": route, "method": method, "code": code}
            got = (after.value("vidgate_http_requests_total", **labels)
                   - before.value("vidgate_http_requests_total", **labels))
            self.assertEqual(got, n, labels)
        moved = {lb for (name, lb), v in after.series.items()
                 if name == "vidgate_http_requests_total"
                 and v != before.series.get((name, lb), 0)}
        self.assertEqual(moved, {tuple(sorted({"route": r, "method": m, "code": c}.items()))
                                 for (r, m, c) in sent}, "a series moved that nothing sent")
        # latency: one observation per request, under the same route template
        for route in ("unmatched", TASK):
            got = (after.value("vidgate_http_request_duration_seconds_count", route=route)
                   - before.value("vidgate_http_request_duration_seconds_count", route=route))
            self.assertEqual(got, sum(n for (r, _, _), n in sent.items() if r == route), route)
        # bounded labels: no id, key id or secret in any label value
        for (_, labels) in after.series:
            for name, value in labels:
                for secret in ("task_", key_id, key, "sk-wrong", a["id"], b["id"], "nope"):
                    self.assertNotIn(secret, value, (name, value))

        # renders, tasks, money
        self.assertEqual(after.value("vidgate_render_duration_seconds_count")
                         - before.value("vidgate_render_duration_seconds_count"), 2)
        self.assertEqual(after.value("vidgate_tasks"), 2)
        self.assertEqual(after.value("vidgate_queue_depth"), 0)
        self.assertEqual(after.value("vidgate_queue_oldest_age_seconds"), 0)
        self.assertEqual(after.value("vidgate_money_held", currency="USD"), 0)
        captured = (after.value("vidgate_money_captured_total", currency="USD")
                    - before.value("vidgate_money_captured_total", currency="USD"))
        self.assertEqual(round(captured * 1000000), micro(ta["cost"]) + micro(tb["cost"]))
        self.assertEqual(after.value("vidgate_webhook_deliveries_total", result="retry"), 0)
        for name in ("vidgate_db_errors_total", "vidgate_content_store_errors_total"):
            self.assertEqual(after.value(name), 0, name)
        self.assertEqual(after.value("vidgate_build_info"), 1)
        self.assertGreater(after.value("process_resident_memory_bytes"), 1 << 20)
        self.assertLessEqual(after.value("process_start_time_seconds"), time.time())
        self.assertGreater(after.value("process_start_time_seconds"), time.time() - 3600)


class MetricsUpstream(unittest.TestCase):
    """Upstream requests per channel and kind, as the simulator itself counted them."""

    def test_ark_requests_errors_and_cooldown(self):
        sim = Sim(queue_ms=200, run_ms=600, faults="503 on=create n=1")
        srv = start_vidgate([channel(sim, "ark-a")])
        try:
            _, key = srv.new_key("up", "50.00")
            st, _, t = srv.submit(key)
            self.assertEqual(st, 200, t)
            done = srv.wait_task(t["id"], key, timeout=90)
            self.assertEqual(done["status"], "completed", done)
            time.sleep(0.5)  # polls still in flight settle
            text = srv.request("GET", "/metrics").body.decode()
            promtool_check(self, text)
            s = Scrape(text)
            ops = sim.stats()["operations"]
            for kind in ("create", "get", "list", "delete"):
                self.assertEqual(s.value("vidgate_upstream_requests_total", channel="ark-a",
                                         kind=kind), ops[kind]["requests"], (kind, ops))
            self.assertEqual(s.value("vidgate_upstream_errors_total", channel="ark-a",
                                     kind="create", **{"class": "transient"}),
                             ops["create"]["5xx"])
            self.assertEqual(ops["create"]["5xx"], 1)
            self.assertGreaterEqual(s.value("vidgate_upstream_requests_total", channel="ark-a",
                                            kind="download"), 1)
            self.assertTrue(s.has("vidgate_channel_cooldown_seconds", channel="ark-a"))
            self.assertGreaterEqual(s.value("vidgate_upstream_poll_lag_seconds_count"), 1)
            self.assertEqual(s.value("vidgate_tasks", status="completed"), 1)
        finally:
            srv.close()
            sim.close()


class MetricsToken(unittest.TestCase):
    """VIDGATE_METRICS_TOKEN closes /metrics; it never reaches the file or --print-config."""

    def test_token_required_and_never_printed(self):
        token = "mt-" + "x7" * 16
        srv = Server(env={"VIDGATE_METRICS_TOKEN": token})
        try:
            for hdr in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                st, h, j = srv.api("GET", "/metrics", headers=hdr)
                self.assertEqual(st, 401, hdr)
                self.assertEqual(j["error"]["code"], "invalid_metrics_token")
                self.assertIn("x-request-id", h)
            r = srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
            self.assertEqual(r.status, 200)
            promtool_check(self, r.body.decode())
            r = srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
            s = Scrape(r.body.decode())
            self.assertEqual(s.value("vidgate_http_requests_total", route="/metrics", code="401"), 3)
            self.assertNotIn(token, r.body.decode())
        finally:
            srv.close()
        out = subprocess.run([VIDGATED, "--print-config"], capture_output=True, text=True,
                             env=dict(os.environ, VIDGATE_METRICS_TOKEN=token), timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(token, out.stdout)
        self.assertNotIn("metrics_token", json.loads(out.stdout))
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"metrics_token": token}, f)
            f.flush()
            out = subprocess.run([VIDGATED, "--config", f.name, "--print-config"],
                                 capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("VIDGATE_METRICS_TOKEN", out.stderr + out.stdout)


if __name__ == "__main__":
    unittest.main()
