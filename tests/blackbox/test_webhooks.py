"""Webhooks, black-box: an event survives kill -9 between the final status and its delivery and is
delivered once after the restart (same webhook-id); callback URLs and key webhook URLs on private
addresses are refused when allow_private_fetch is off; signing secrets are per key, readable only
by that key and the admin, and a rotation signs with both secrets; a failed task's event goes to
the key's default URL, shows in the task object, and the admin can redeliver it (same id, same
body). The signature is checked here the Standard Webhooks way (tests/sdk/webhooks.test.mjs checks
it with the official openai package)."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest

from harness import Server

OPEN = {"VIDGATE_ALLOW_HTTP_FETCH": "1", "VIDGATE_ALLOW_PRIVATE_FETCH": "1",
        "VIDGATE_WEBHOOK_BACKOFF_MS": "200"}


class Receiver:
    """A loopback receiver. Requests that arrive while `hold` is set wait (up to 30 s) and are
    then answered 503; the others get `answer`. Every request is recorded with how it was
    answered."""

    def __init__(self):
        self.hits, self.lock = [], threading.Lock()
        self.hold = threading.Event()
        self.release = threading.Event()
        self.answer = 200
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                held = rec.hold.is_set()
                if held:
                    rec.release.wait(30)
                code = 503 if held else rec.answer
                with rec.lock:
                    rec.hits.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body, "code": code, "at": time.time()})
                try:
                    self.send_response(code)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, pred, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                got = [h for h in self.hits if pred(h)]
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError("no matching delivery; got %r" % self.hits)


def verify(hit, secret):
    """Standard Webhooks verification: any v1 signature of id.timestamp.body under the secret."""
    h = hit["headers"]
    key = base64.b64decode(secret[len("whsec_"):])
    msg = ("%s.%s." % (h["webhook-id"], h["webhook-timestamp"])).encode() + hit["body"]
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(s.split(",", 1)[1] == want for s in h["webhook-signature"].split(" "))


class WebhooksTest(unittest.TestCase):
    def setUp(self):
        self.rx = Receiver()
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.close()
        self.rx.close()

    def test_kill9_between_final_status_and_delivery(self):
        self.srv = Server(env=OPEN)
        _, key = self.srv.new_key("crash", "10.00")
        self.rx.hold.set()
        st, _, j = self.srv.submit(key, callback_url=self.rx.url + "/crash")
        self.assertEqual(st, 200, j)
        t = self.srv.wait_task(j["id"], key)
        self.assertEqual(t["status"], "completed", t)
        self.srv.kill9()  # the outbox row is committed; its delivery is pending or in flight
        self.rx.release.set()
        self.rx.hold.clear()
        self.srv.start()
        ok = self.rx.wait(lambda h: h["code"] == 200)
        time.sleep(1.5)  # several backoff periods: nothing more may come
        with self.rx.lock:
            hits = list(self.rx.hits)
        ids = {h["headers"]["webhook-id"] for h in hits}
        self.assertEqual(len(ids), 1, hits)
        self.assertEqual(len([h for h in hits if h["code"] == 200]), 1, hits)
        secret = self.srv.api("GET", "/v1/me/webhook-secret", key=key)[2]["secret"]
        self.assertTrue(verify(ok[0], secret))
        ev = json.loads(ok[0]["body"])
        self.assertEqual((ev["object"], ev["type"], ev["data"]["id"], ev["data"]["status"]),
                         ("event", "video.completed", j["id"], "completed"))
        self.assertEqual(ev["id"], ok[0]["headers"]["webhook-id"])
        t = self.srv.api("GET", "/v1/video/generations/" + j["id"], key=key)[2]
        self.assertEqual((t["webhook"]["status"], t["webhook"]["id"]), ("delivered", ev["id"]), t)

    def test_private_destinations_refused(self):
        self.srv = Server()
        kid, key = self.srv.new_key("closed", "10.00")
        for url in ("https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://[::1]/hook",
                    "http://example.com/hook"):
            st, _, j = self.srv.submit(key, callback_url=url)
            self.assertEqual((st, j["error"]["param"]), (400, "callback_url"), (url, j))
            st, _, j = self.srv.api("POST", "/v1/me/webhook", {"url": url}, key=key)
            self.assertEqual((st, j["error"]["param"]), (400, "url"), (url, j))
            st, _, j = self.srv.api("PATCH", "/admin/keys/" + kid, {"webhook_url": url},
                                    key=self.srv.admin_key)
            self.assertEqual((st, j["error"]["param"]), (400, "webhook_url"), (url, j))
        st, _, j = self.srv.api("POST", "/v1/me/webhook", {"url": "https://hooks.example.com/x"},
                                key=key)
        self.assertEqual((st, j["url"]), (200, "https://hooks.example.com/x"))
        st, _, j = self.srv.api("GET", "/admin/keys/" + kid, key=self.srv.admin_key)
        self.assertEqual(j["webhook_url"], "https://hooks.example.com/x")
        st, _, j = self.srv.api("PATCH", "/admin/keys/" + kid, {"webhook_url": None},
                                key=self.srv.admin_key)
        self.assertEqual((st, j["webhook_url"]), (200, None))

    def test_secrets_rotation_default_url_and_redelivery(self):
        self.srv = Server(env=OPEN)
        kid, key = self.srv.new_key("hooks", "10.00")
        _, other = self.srv.new_key("other", "10.00")
        s1 = self.srv.api("GET", "/v1/me/webhook-secret", key=key)[2]["secret"]
        self.assertRegex(s1, r"^whsec_[A-Za-z0-9+/]{43}=$")
        self.assertEqual(len(base64.b64decode(s1[6:])), 32)
        self.assertEqual(self.srv.api("GET", "/v1/me/webhook-secret", key=key)[2]["secret"], s1)
        self.assertNotEqual(self.srv.api("GET", "/v1/me/webhook-secret", key=other)[2]["secret"], s1)
        st, _, j = self.srv.api("GET", "/admin/keys/%s/webhook-secret" % kid, key=self.srv.admin_key)
        self.assertEqual((st, j["secret"]), (200, s1))
        st, _, j = self.srv.api("GET", "/admin/keys/%s/webhook-secret" % kid, key=other)
        self.assertEqual(st, 403, j)
        st, _, j = self.srv.api("POST", "/v1/me/webhook-secret/rotate", key=key)
        s2 = j["secret"]
        self.assertEqual(st, 200)
        self.assertNotEqual(s1, s2)
        self.assertEqual(self.srv.api("GET", "/v1/me/webhook-secret", key=key)[2]["secret"], s2)
        # The key's default URL; a failing task (its first frame cannot be fetched).
        st, _, j = self.srv.api("POST", "/v1/me/webhook", {"url": self.rx.url + "/default"}, key=key)
        self.assertEqual(st, 200, j)
        st, _, j = self.srv.submit(key, images=[self.rx.url + "/missing.png"])
        self.assertEqual(st, 200, j)
        t = self.srv.wait_task(j["id"], key)
        self.assertEqual(t["status"], "failed", t)
        hit = self.rx.wait(lambda h: h["path"] == "/default")[0]
        sigs = hit["headers"]["webhook-signature"].split(" ")
        self.assertEqual(len(sigs), 2, sigs)  # the rotated-out secret still signs
        self.assertTrue(verify(hit, s1) and verify(hit, s2))
        ev = json.loads(hit["body"])
        self.assertEqual((ev["type"], ev["data"]["id"], ev["data"]["status"]),
                         ("video.failed", j["id"], "failed"))
        deadline = time.time() + 10
        while time.time() < deadline:
            t = self.srv.api("GET", "/v1/video/generations/" + j["id"], key=key)[2]
            if t.get("webhook", {}).get("status") == "delivered":
                break
            time.sleep(0.05)
        self.assertEqual((t["webhook"]["status"], t["webhook"]["attempts"],
                          t["webhook"]["last_http_status"]), ("delivered", 1, 200), t)
        # Redelivery: admin only; same id, same body, fresh signature.
        path = "/admin/tasks/%s/webhook/redeliver" % j["id"]
        self.assertEqual(self.srv.api("POST", path, key=key)[0], 403)
        st, _, w = self.srv.api("POST", path, key=self.srv.admin_key)
        self.assertEqual((st, w["status"]), (202, "pending"), w)
        again = self.rx.wait(lambda h: h["path"] == "/default" and h is not hit)[0]
        self.assertEqual(again["headers"]["webhook-id"], hit["headers"]["webhook-id"])
        self.assertEqual(again["body"], hit["body"])
        self.assertTrue(verify(again, s2))
        st, _, e = self.srv.api("POST", "/admin/tasks/task_00000000000000000000000000/webhook/redeliver",
                                key=self.srv.admin_key)
        self.assertEqual(st, 404, e)


if __name__ == "__main__":
    unittest.main()
