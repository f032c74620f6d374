"""Operations: reloading the configuration without a restart (SIGHUP and POST /admin/reload), and
the log options.

- A price changed in the config file and reloaded by SIGHUP applies to the next submit's hold.
- An invalid file keeps the old prices: the log and the /admin/reload reply say why.
- A partial "models" entry overrides that model only; the others keep their built-in prices.
- --log-format json: every line of the log parses as JSON; --access-log off drops request lines,
  --access-log FILE writes them there."""
import json
import os
import signal
import tempfile
import time
import unittest

from harness import Server

FAST, PRO = "doubao-seedance-2-0-fast", "doubao-seedance-2-0"
# 480p 16:9 4 s: 864 x 496 x (24 x 4 + 1) / 1024 tokens
TOKENS = 864 * 496 * 97 // 1024


def hold_micro(price_per_mtok_micro):
    return -(-TOKENS * price_per_mtok_micro // 1000000)


def money(micro):
    return "%d.%06d" % (micro // 1000000, micro % 1000000)


class ReloadTest(unittest.TestCase):
    def setUp(self):
        fd, self.cfg = tempfile.mkstemp(suffix=".json", prefix="vg-ops-")
        os.close(fd)
        self.addCleanup(os.unlink, self.cfg)
        self.write({"models": [{"name": FAST, "prices": {"480p": "1.0"}}]})
        self.srv = Server(args=["--config", self.cfg])
        self.addCleanup(self.srv.close)
        self.kid, self.key = self.srv.new_key("ops", "100.00")

    def write(self, cfg):
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)

    def prices(self, model):
        status, _, m = self.srv.api("GET", "/v1/models/" + model, key=self.key)
        self.assertEqual(status, 200, m)
        return m["pricing"]["per_million_tokens"]

    def held_by_next_submit(self):
        """Submits a task and returns what its submit held (from /v1/me right after)."""
        _, _, before = self.srv.api("GET", "/v1/me", key=self.key)
        status, _, t = self.srv.submit(self.key)
        self.assertEqual(status, 200, t)
        # the ledger's newest hold is this task's
        status, _, led = self.srv.api("GET", "/admin/keys/%s/ledger?limit=10" % self.kid,
                                      key=self.srv.admin_key)
        self.assertEqual(status, 200, led)
        holds = [e for e in led["data"] if e["task_id"] == t["id"] and e["kind"] == "hold"]
        self.assertEqual(len(holds), 1, led)
        self.srv.wait_task(t["id"], self.key)
        return holds[0]["amount"]

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.srv.log_text():
                return
            time.sleep(0.05)
        self.fail("no %r in the log:\n%s" % (text, self.srv.log_text()[-3000:]))

    def test_sighup_price_change_applies_to_the_next_hold(self):
        self.assertEqual(self.prices(FAST)["480p"], "1.000000")
        self.assertEqual(self.held_by_next_submit(), money(hold_micro(1000000)))
        self.write({"models": [{"name": FAST, "prices": {"480p": "2.5"}}]})
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_log("reload: changed models")
        self.assertIn(FAST, self.srv.log_text().split("reload: models", 1)[1].splitlines()[0])
        self.assertEqual(self.prices(FAST)["480p"], "2.500000")
        self.assertEqual(self.held_by_next_submit(), money(hold_micro(2500000)))

    def test_invalid_reload_keeps_old_prices_and_says_why(self):
        self.write({"models": [{"name": FAST, "prices": {"480p": "cheap"}}]})
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_log("reload refused, the old configuration is kept")
        self.assertIn("prices.480p is not a price", self.srv.log_text())
        self.assertEqual(self.prices(FAST)["480p"], "1.000000")
        status, _, j = self.srv.api("POST", "/admin/reload", key=self.srv.admin_key)
        self.assertEqual(status, 400, j)
        self.assertEqual(j["error"]["code"], "invalid_config")
        self.assertIn("prices.480p is not a price", j["error"]["message"])
        self.assertIn("old one is kept", j["error"]["message"])
        # other invalid files: not JSON, a channel naming an unknown model, a bad log level
        for bad in ("{not json", {"channels": [{"name": "x", "type": "ark", "base_url":
                                               "http://127.0.0.1:1", "api_key_env": "HOME",
                                               "models": {"no-such-model": "m"}}]},
                    {"log_level": "loud"}, {"retention_s": "soon"}):
            with self.subTest(bad=bad):
                with open(self.cfg, "w") as f:
                    f.write(bad if isinstance(bad, str) else json.dumps(bad))
                status, _, j = self.srv.api("POST", "/admin/reload", key=self.srv.admin_key)
                self.assertEqual(status, 400, j)
        self.assertEqual(self.prices(FAST)["480p"], "1.000000")
        self.assertEqual(self.held_by_next_submit(), money(hold_micro(1000000)))
        # a user key may not reload
        status, _, j = self.srv.api("POST", "/admin/reload", key=self.key)
        self.assertEqual(status, 403, j)

    def test_partial_models_entry_overrides_one_model(self):
        self.assertEqual(self.prices(PRO), {"480p": "7.000000", "720p": "7.000000",
                                            "1080p": "7.700000"})
        self.assertEqual(self.prices(FAST), {"480p": "1.000000", "720p": "5.600000"})
        self.write({"models": [{"name": FAST, "prices": {"720p": "6.0"}},
                               {"name": "doubao-seedance-2-0-mini", "enabled": False}],
                    "retention_s": 3600, "max_connections_per_ip": 64})
        status, _, rep = self.srv.api("POST", "/admin/reload", key=self.srv.admin_key)
        self.assertEqual(status, 200, rep)
        self.assertEqual(rep["models"], {"added": [], "removed": ["doubao-seedance-2-0-mini"],
                                         "changed": [FAST]})
        self.assertIn("retention_s", rep["changed"])
        self.assertEqual(rep["restart_required"], ["max_connections_per_ip"])
        self.assertIn("retention_s 604800 -> 3600", self.srv.log_text())
        self.assertIn("max_connections_per_ip changed in the configuration but take(s) effect only after a "
                      "restart", self.srv.log_text())
        # the 480p override of the first file is gone: each load starts from the built-in table
        self.assertEqual(self.prices(FAST), {"480p": "5.600000", "720p": "6.000000"})
        self.assertEqual(self.prices(PRO)["1080p"], "7.700000")
        status, _, _ = self.srv.api("GET", "/v1/models/doubao-seedance-2-0-mini", key=self.key)
        self.assertEqual(status, 404)
        # the retention applies to tasks completed from now on
        status, _, t = self.srv.submit(self.key)
        done = self.srv.wait_task(t["id"], self.key)
        self.assertLessEqual(done["expires_at"] - done["completed_at"], 3601)
        status, _, rep = self.srv.api("POST", "/admin/reload", key=self.srv.admin_key)
        self.assertEqual(rep["changed"], [])


class LogTest(unittest.TestCase):
    def test_json_lines_and_access_log_off(self):
        srv = Server(args=["--log-format", "json", "--access-log", "off"])
        try:
            kid, key = srv.new_key("logs", "1.00")
            srv.api("GET", "/v1/me", key=key)
            srv.api("GET", "/no/such/route", key=key)
            srv.request("GET", "/v1/me", headers={"Authorization": "Bearer \x01bad"})
        finally:
            srv.stop()
        lines = srv.log_text().splitlines()
        self.assertTrue(lines)
        for line in lines:
            obj = json.loads(line)  # every line is one JSON object
            self.assertIn(obj["level"], ("debug", "info", "warn", "error"))
            self.assertIn("ts", obj)
            self.assertNotEqual(obj.get("type"), "access", line)
        self.assertTrue(any(json.loads(l).get("msg", "").startswith("listening on") for l in lines))

    def test_access_log_to_a_file_in_json(self):
        fd, path = tempfile.mkstemp(prefix="vg-access-")
        os.close(fd)
        self.addCleanup(os.unlink, path)
        srv = Server(env={"VIDGATE_LOG_FORMAT": "json", "VIDGATE_ACCESS_LOG": path})
        try:
            kid, key = srv.new_key("logs", "1.00")
            srv.api("GET", "/v1/me", key=key)
        finally:
            srv.stop()
        with open(path) as f:
            entries = [json.loads(l) for l in f]
        me = [e for e in entries if e["path"] == "/v1/me"]
        self.assertEqual(len(me), 1, entries)
        self.assertEqual((me[0]["type"], me[0]["method"], me[0]["status"], me[0]["key"]),
                         ("access", "GET", 200, kid))
        self.assertTrue(me[0]["rid"].startswith("req_"))
        self.assertNotIn('"type":"access"', srv.log_text())

    def test_text_format_stays_one_line_per_event(self):
        srv = Server(args=["--access-log", "on"])
        try:
            kid, key = srv.new_key("logs", "1.00")
            srv.api("GET", "/v1/me", key=key)
        finally:
            srv.stop()
        text = srv.log_text()
        self.assertRegex(text, r"\n\S+Z INFO GET /v1/me 200 \d+ms key=%s rid=req_" % kid)

    def test_bad_log_options_refuse_to_start(self):
        for args in (["--log-format", "xml"], ["--access-log", "/no/such/dir/access.log"]):
            with self.subTest(args=args):
                srv = Server(args=args, start=False)
                try:
                    with self.assertRaises(AssertionError):
                        srv.start(timeout=5)
                finally:
                    srv.proc.wait()
                    shutil_rmtree(srv.data)


def shutil_rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
