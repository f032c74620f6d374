"""The web console's files and the admin views it uses, without a browser (tests/console drives
one): security and caching headers on every /console/ answer, MIME types, 404 for every path
traversal attempt, console_dir (a directory of one's own, "off"), GET /v1/me/ledger (a key's own
entries only) and GET /admin/channels (admin only; a channel that refuses connections shows its
requests, errors and faults while the local channel serves the task)."""
import http.client
import json
import os
import shutil
import tempfile
import time
import unittest

from harness import ROOT, Server

FAST = "doubao-seedance-2-0-fast"
TRAVERSALS = [
    "/console/../vidgate.db", "/console/..%2fvidgate.db", "/console/%2e%2e/vidgate.db",
    "/console/%2e%2e%2fvidgate.db", "/console/..", "/console/%2e%2e", "/console/.%2e/secret",
    "/console/../../../../etc/passwd", "/console/..%5cvidgate.db", "/console/vidgate.db",
    "/console/admin.key", "/console/secret", "/console/app.js%00.png", "/console/.index.html",
    "/console/sub/app.js", "/console//etc/passwd", "/console/%2fetc%2fpasswd", "/console/index",
    "/console/app.JS.bak",
]


def raw_get(srv, path, headers=None):
    """A GET with the path sent exactly as given (urllib would not normalise it, but be sure)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class ConsoleFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def assert_security_headers(self, h, what):
        csp = h.get("content-security-policy", "")
        for part in ("default-src 'self'", "script-src 'self';", "frame-ancestors 'none'",
                     "object-src 'none'"):
            self.assertIn(part, csp, what)
        self.assertNotIn("unsafe-inline", csp, what)
        self.assertNotIn("unsafe-eval", csp, what)
        self.assertEqual(h.get("x-frame-options"), "DENY", what)
        self.assertEqual(h.get("x-content-type-options"), "nosniff", what)
        self.assertEqual(h.get("referrer-policy"), "no-referrer", what)

    def test_files_types_and_caching(self):
        types = {"/console/": "text/html", "/console/index.html": "text/html",
                 "/console/app.js": "text/javascript", "/console/api.js": "text/javascript",
                 "/console/app.css": "text/css", "/console/icon.svg": "image/svg+xml"}
        for path, mime in types.items():
            st, h, body = raw_get(self.srv, path)
            self.assertEqual(st, 200, path)
            self.assertTrue(h["content-type"].startswith(mime), (path, h["content-type"]))
            self.assertEqual(h.get("cache-control"), "no-cache", path)
            self.assert_security_headers(h, path)
            self.assertTrue(h.get("etag"), path)
            st2, h2, _ = raw_get(self.srv, path, {"If-None-Match": h["etag"]})
            self.assertEqual(st2, 304, path)
            self.assert_security_headers(h2, path + " (304)")
        # the page loads its code from files only: no inline script or handler in the HTML
        _, _, html = raw_get(self.srv, "/console/")
        self.assertIn(b'<script type="module" src="app.js"></script>', html)
        self.assertNotIn(b" onclick=", html)
        self.assertEqual(html.count(b"<script"), 1)

    def test_redirect_to_the_directory(self):
        st, h, _ = raw_get(self.srv, "/console")
        self.assertEqual(st, 301)
        self.assertEqual(h["location"], "/console/")
        self.assert_security_headers(h, "/console")

    def test_no_path_traversal(self):
        for path in TRAVERSALS:
            st, h, body = raw_get(self.srv, path)
            self.assertEqual(st, 404, path)
            self.assertNotIn(b"SQLite format", body, path)
            self.assertNotIn(b"root:", body, path)
            if "/" not in path[len("/console/"):]:
                self.assert_security_headers(h, path)

    def test_no_key_needed_and_a_bad_key_ignored(self):
        st, _, _ = raw_get(self.srv, "/console/app.js", {"Authorization": "Bearer sk-nonsense"})
        self.assertEqual(st, 200)


class ConsoleDirTest(unittest.TestCase):
    def test_a_directory_of_ones_own_and_off(self):
        d = tempfile.mkdtemp(prefix="vg-console-dir-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write("<!doctype html><title>own</title>")
        srv = Server(args=["--console-dir", d])
        try:
            st, _, body = raw_get(srv, "/console/")
            self.assertEqual((st, body), (200, b"<!doctype html><title>own</title>"))
            self.assertEqual(raw_get(srv, "/console/app.js")[0], 404)
            self.assertIn("console: serving " + os.path.realpath(d), srv.log_text())
        finally:
            srv.close()
        srv = Server(env={"VIDGATE_CONSOLE_DIR": "off"})
        try:
            st, h, _ = raw_get(srv, "/console/")
            self.assertEqual(st, 404)
            self.assertIn("frame-ancestors 'none'", h.get("content-security-policy", ""))
        finally:
            srv.close()

    def test_default_is_the_repository_console(self):
        srv = Server()
        try:
            self.assertIn("console: serving " + os.path.join(ROOT, "console"), srv.log_text())
        finally:
            srv.close()


class AdminViewsTest(unittest.TestCase):
    def test_my_ledger_is_mine(self):
        srv = Server()
        try:
            _, a = srv.new_key("a", "3.00")
            _, b = srv.new_key("b", "7.00")
            st, _, led = srv.api("GET", "/v1/me/ledger", key=a)
            self.assertEqual(st, 200, led)
            self.assertEqual([(e["kind"], e["amount"]) for e in led["data"]], [("credit", "3.000000")])
            st, _, t = srv.submit(b)
            self.assertEqual(st, 200, t)
            srv.wait_task(t["id"], b)
            st, _, led = srv.api("GET", "/v1/me/ledger?limit=2", key=b)
            self.assertEqual(st, 200, led)
            self.assertEqual([e["kind"] for e in led["data"]], ["release", "capture"])
            self.assertTrue(led["has_more"])
            st, _, more = srv.api("GET", "/v1/me/ledger?before=%d" % led["next_before"], key=b)
            self.assertEqual([e["kind"] for e in more["data"]], ["hold", "credit"])
            self.assertEqual(srv.api("GET", "/v1/me/ledger?limit=0", key=b)[0], 400)
            self.assertEqual(srv.api("GET", "/v1/me/ledger")[0], 401)
        finally:
            srv.close()

    def test_channels(self):
        srv = Server(start=False)
        conf = {"channels": [
            {"name": "down", "type": "ark", "base_url": "http://127.0.0.1:9/api/v3",
             "api_key_env": "ARK_KEY", "models": {FAST: "seedance-fast-up"}, "priority": 30,
             "timeout_ms": 1500, "expected_s": 1},
            {"name": "local", "type": "local"}]}
        path = os.path.join(srv.data, "vidgate.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        srv.env["ARK_KEY"] = "sk-ark-test"
        srv.args = ["--config", path]
        srv.start()
        try:
            _, key = srv.new_key("u", "5.00")
            self.assertEqual(srv.api("GET", "/admin/channels", key=key)[0], 403)
            st, _, ch = srv.api("GET", "/admin/channels", key=srv.admin_key)
            self.assertEqual(st, 200, ch)
            self.assertEqual([c["name"] for c in ch["data"]], ["down", "local"])
            self.assertEqual(ch["data"][1]["type"], "local")
            st, _, t = srv.submit(key)
            self.assertEqual(st, 200, t)
            self.assertEqual(srv.wait_task(t["id"], key, timeout=90)["status"], "completed")
            st, _, ch = srv.api("GET", "/admin/channels", key=srv.admin_key)
            down = ch["data"][0]
            self.assertEqual(down["type"], "ark")
            self.assertGreaterEqual(down["requests"], 1, down)
            self.assertGreaterEqual(down["errors"], 1, down)
            self.assertGreaterEqual(down["faults"], 1, down)
            self.assertGreaterEqual(down["cooldown_ms"], 0, down)
            self.assertEqual(down["active"], 0, down)
            self.assertEqual(down["expected_ms"], 1000, down)
            for field in ("priority", "weight", "max_active", "models", "learned"):
                self.assertIn(field, down)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
