"""Task lifecycle across cancels, crashes and restarts: a queued task can be cancelled (its hold is
released), a running one cannot; kill -9 during a render, right after submits, or in the middle of
a stream of concurrent submits (committed in batches) loses nothing and charges exactly once;
SIGTERM puts running work back in the queue."""
import http.client
import json
import os
import subprocess
import threading
import time
import unittest
from decimal import Decimal

from harness import VIDGATED, Server, store_args

PRO = "doubao-seedance-2-0"
LONG = {"model": PRO, "seconds": "10", "metadata": {"resolution": "1080p", "ratio": "16:9"}}


def money(s):
    return Decimal(s)


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(env={"VIDGATE_RENDER_WORKERS": "1"})
        self.key_id, self.key = self.srv.new_key("life", "100.00")

    def tearDown(self):
        self.srv.close()

    def me(self):
        return self.srv.api("GET", "/v1/me", key=self.key)[2]

    def wait_running(self, tid):
        return self.srv.wait_task(tid, self.key, until=("running", "completed", "failed"))

    def assert_settled(self, tasks, start_balance=Decimal("100")):
        me = self.me()
        self.assertEqual(money(me["held"]), 0, me)
        spent = sum(money(t["cost"]) for t in tasks if t["status"] == "completed")
        self.assertEqual(money(me["balance"]), start_balance - spent, (me, tasks))

    def test_cancel_queued_not_running(self):
        a = self.srv.submit(self.key, prompt="long one", **LONG)[2]["id"]
        self.assertEqual(self.wait_running(a)["status"], "running")
        st, _, b = self.srv.submit(self.key, prompt="waiting")
        held_before = money(self.me()["held"])
        st, _, c = self.srv.api("DELETE", "/v1/video/generations/" + b["id"], key=self.key)
        self.assertEqual((st, c["status"], c["error"]["code"]), (200, "cancelled", "cancelled"))
        self.assertLess(money(self.me()["held"]), held_before)
        st, _, e = self.srv.api("DELETE", "/v1/video/generations/" + a, key=self.key)
        self.assertEqual((st, e["error"]["code"]), (409, "task_not_cancellable"))
        st, _, e = self.srv.api("DELETE", "/v1/video/generations/" + b["id"], key=self.key)
        self.assertEqual(st, 200)  # deleting a cancelled task's (absent) files is harmless
        st, _, e = self.srv.api("GET", "/v1/videos/%s/content" % b["id"], key=self.key)
        self.assertEqual((st, e["error"]["code"]), (409, "video_not_ready"))

    def test_kill9_during_render_then_restart(self):
        tid = self.srv.submit(self.key, prompt="crash me", **LONG)[2]["id"]
        deadline_t = self.srv.wait_task(tid, self.key, until=("running",))
        self.assertEqual(deadline_t["status"], "running")
        self.srv.kill9()
        self.srv.start()
        t = self.srv.wait_task(tid, self.key, timeout=300)
        self.assertEqual(t["status"], "completed", t)
        self.assert_settled([t])

    def test_kill9_right_after_submits(self):
        ids = [self.srv.submit(self.key, prompt="burst %d" % i)[2]["id"] for i in range(6)]
        self.srv.kill9()
        self.srv.start()
        tasks = [self.srv.wait_task(i, self.key, timeout=300) for i in ids]
        self.assertEqual([t["status"] for t in tasks], ["completed"] * 6)
        self.assert_settled(tasks)

    def test_kill9_mid_stream_of_concurrent_submits(self):
        """Every 200 was committed with its hold before it was sent, whatever batch it was in;
        no hold outlives a rolled-back task; Idempotency-Key twins sent at once make one task."""
        accepted, twins, errors = {}, [], []
        lock, stop = threading.Lock(), threading.Event()
        # A balance no burst can exhaust: a fast machine overshoots the 300 by hundreds.
        _, key = self.srv.new_key("stream", "100000.00")

        def submitter(n):
            c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
            i = 0
            while not stop.is_set():
                body = {"model": "doubao-seedance-2-0-fast", "prompt": "stream %d.%d" % (n, i),
                        "seconds": "4", "metadata": {"resolution": "480p", "ratio": "16:9"}}
                hdrs = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
                if i % 4 == 0:  # pairs of threads send the same key at the same time
                    hdrs["Idempotency-Key"] = "pair-%d-%d" % (n // 2, i)
                    body["prompt"] = "pair %d.%d" % (n // 2, i)
                try:
                    c.request("POST", "/v1/video/generations", json.dumps(body), hdrs)
                    r = c.getresponse()
                    j = json.loads(r.read())
                except (OSError, http.client.HTTPException, ValueError):
                    return  # the server died under this request: it may or may not exist
                with lock:
                    if r.status == 200:
                        accepted[j["id"]] = hdrs.get("Idempotency-Key")
                        if "Idempotency-Key" in hdrs:
                            twins.append((hdrs["Idempotency-Key"], j["id"]))
                    else:
                        errors.append((r.status, j))
                i += 1

        threads = [threading.Thread(target=submitter, args=(n,)) for n in range(32)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while len(accepted) < 300 and time.time() < deadline and not errors:
            time.sleep(0.05)
        self.srv.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(len(accepted), 50)
        by_key = {}
        for k, tid in twins:
            by_key.setdefault(k, set()).add(tid)
        self.assertEqual([k for k, ids in by_key.items() if len(ids) > 1], [])
        self.srv.start()
        # Whole-table queries (through srv.sql: SQLite or PostgreSQL), compared here.
        held = {str(r[0]) for r in self.srv.sql(
            "SELECT t.id FROM tasks t JOIN ledger l ON l.task_id = t.id AND l.kind = 'hold' "
            "GROUP BY t.id HAVING count(*) = 1")}
        missing = [tid for tid in accepted if tid not in held]
        orphans = int(self.srv.sql("SELECT count(*) FROM ledger l WHERE l.kind = 'hold' AND NOT "
                                   "EXISTS (SELECT 1 FROM tasks t WHERE t.id = l.task_id)")[0][0])
        pairs = int(self.srv.sql("SELECT count(*) FROM idempotency i WHERE NOT EXISTS "
                                 "(SELECT 1 FROM tasks t WHERE t.id = i.task_id)")[0][0])
        self.assertEqual((missing, orphans, pairs), ([], 0, 0))
        r = subprocess.run([VIDGATED, "check", "--data", self.srv.data] + store_args(self.srv.data),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_sigterm_with_idle_keepalive_connections(self):
        conns = []
        for _ in range(4):
            c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
            c.request("GET", "/healthz")
            c.getresponse().read()
            conns.append(c)  # left open: idle keep-alive connections
        self.assertEqual(self.srv.stop(), 0)
        for c in conns:
            c.close()

    def test_sigterm_requeues_running_work(self):
        tid = self.srv.submit(self.key, prompt="interrupted", **LONG)[2]["id"]
        self.wait_running(tid)
        self.assertEqual(self.srv.stop(), 0)
        self.srv.start()
        t = self.srv.wait_task(tid, self.key, timeout=300)
        self.assertEqual(t["status"], "completed", t)
        self.assert_settled([t])


if __name__ == "__main__":
    unittest.main()
