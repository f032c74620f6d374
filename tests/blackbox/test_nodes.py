"""Two vidgated nodes on one PostgreSQL database (VG_TEST_STORE=postgresql; skipped on SQLite):
keys, money and tasks are shared, each task is rendered once by one of them, both sign links with
one presigning secret, and the shared ledger audits clean. With an Ark channel (the simulator),
one node (the leader) makes every upstream call for both, each task is created upstream once, and
when the leader is killed (-9) the other takes its upstream work over and finishes it; with a
local channel beside the Ark one, the follower's local tasks are routed by the leader and rendered
at once."""
import json
import os
import re
import time
import unittest
import urllib.request

from harness import USE_PG, VIDGATED, Server, store_args
from test_ark import FAST, PRO, SIM_KEY, UP_FAST, Sim, channel
import subprocess


@unittest.skipUnless(USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class TwoNodesTest(unittest.TestCase):
    def setUp(self):
        self.a = Server(args=["--node", "node-a"])
        url = store_args(self.a.data)[1]
        self.b = Server(args=["--node", "node-b"], database=url,
                        env={"VIDGATE_ADMIN_KEY": self.a.admin_key})

    def tearDown(self):
        self.b.close()
        self.a.close()

    def test_shared_keys_money_tasks_and_secret(self):
        kid, key = self.a.new_key("shared", "10.00")
        self.assertEqual(self.b.api("GET", "/v1/me", key=key)[0], 200)
        ids = []
        for i in range(6):
            srv = self.a if i % 2 == 0 else self.b
            st, _, j = srv.submit(key, prompt="node test %d" % i)
            self.assertEqual(st, 200, j)
            ids.append(j["id"])
        tasks = [self.a.wait_task(t, key) for t in ids]
        self.assertEqual({t["status"] for t in tasks}, {"completed"})
        rendered = self.a.sql("SELECT count(*) FROM tasks WHERE status = 'completed' AND "
                              "attempts = 1")
        self.assertEqual(int(rendered[0][0]), 6)  # each claimed once, by one node
        me = self.b.api("GET", "/v1/me", key=key)[2]
        self.assertEqual(me["held"], "0.000000")
        with open(os.path.join(self.a.data, "secret")) as fa, \
                open(os.path.join(self.b.data, "secret")) as fb:
            self.assertEqual(fa.read(), fb.read())
        r = subprocess.run([VIDGATED, "check"] + store_args(self.a.data), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 difference(s)", r.stdout)


def upstream_requests(srv):
    """{kind: count} of this node's vidgate_upstream_requests_total (all channels)."""
    with urllib.request.urlopen(srv.base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^vidgate_upstream_requests_total\{[^}]*kind="(\w+)"[^}]*\} (\d+)',
                         text, re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


@unittest.skipUnless(USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class UpstreamLeaderTest(unittest.TestCase):
    """One scheduler for the cluster: polls batched by one node, takeover after a kill -9."""

    def node(self, name, database=None, admin_key=None):
        env = {"ARK_KEY": SIM_KEY, "VIDGATE_UPSTREAM_POLL_MIN_MS": "200",
               "VIDGATE_UPSTREAM_POLL_MAX_MS": "1000"}
        if admin_key:
            env["VIDGATE_ADMIN_KEY"] = admin_key
        srv = Server(env=env, start=False, database=database)
        path = os.path.join(srv.data, "vidgate.json")
        with open(path, "w") as f:
            json.dump({"channels": [channel(self.sim)]}, f)
        srv.args += ["--node", name, "--config", path]
        srv.start()
        return srv

    def setUp(self):
        self.sim = Sim(queue_ms=300, run_ms=2500)
        self.a = self.node("node-a")
        url = store_args(self.a.data)[1]
        self.b = self.node("node-b", database=url, admin_key=self.a.admin_key)

    def tearDown(self):
        try:
            self.b.close()
            self.a.close()
        finally:
            self.sim.close()

    def leader_lines(self, srv):
        return [l for l in srv.log_text().splitlines() if "now plans upstream work" in l]

    def submit_many(self, key, n, tag):
        ids = []
        for i in range(n):
            srv = self.a if i % 2 == 0 else self.b
            st, _, j = srv.submit(key, model=FAST, prompt="%s %d" % (tag, i))
            self.assertEqual(st, 200, j)
            ids.append(j["id"])
        return ids

    def test_one_leader_polls_and_a_survivor_takes_over(self):
        started = time.time()
        kid, key = self.a.new_key("leader", "50.00")
        # the first node to start leads; the second only renders (and waits for the lease)
        self.assertEqual(len(self.leader_lines(self.a)), 1, self.a.log_text()[-3000:])
        self.assertEqual(self.leader_lines(self.b), [])
        ids = self.submit_many(key, 6, "phase one")
        tasks = [self.a.wait_task(t, key, timeout=60) for t in ids]
        self.assertEqual({t["status"] for t in tasks}, {"completed"}, tasks)
        ra, rb = upstream_requests(self.a), upstream_requests(self.b)
        self.assertEqual(rb, {}, "the follower called upstream: %s" % rb)
        self.assertEqual(ra.get("create"), 6, ra)
        self.assertGreater(ra.get("list", 0), 0, ra)  # polled in batches through the list
        self.assertEqual(ra.get("get", 0), 0, ra)
        self.assertEqual(self.sim.stats()["tasks"], 6)
        print("\n  leader node-a: %s; follower node-b: none" % ra)

        # phase two: the leader dies while its upstream tasks run
        ids2 = self.submit_many(key, 6, "phase two")
        deadline = time.time() + 30
        while self.sim.stats()["tasks"] < 12 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.sim.stats()["tasks"], 12)
        killed = time.time()
        self.a.kill9()
        while not self.leader_lines(self.b) and time.time() < killed + 30:
            time.sleep(0.1)
        took = time.time() - killed
        self.assertTrue(self.leader_lines(self.b), self.b.log_text()[-3000:])
        self.assertLessEqual(took, 30)
        tasks = [self.b.wait_task(t, key, timeout=60) for t in ids2]
        self.assertEqual({t["status"] for t in tasks}, {"completed"}, tasks)
        st = self.sim.stats(detail=True)
        self.assertEqual(st["tasks"], 12)  # every task created upstream once, none twice
        self.assertEqual(sum(1 for c in st["creates"] if c["status"] == 200), 12)
        ups = self.b.sql("SELECT count(DISTINCT upstream_id) FROM upstream_tasks "
                         "WHERE upstream_id != ''")
        self.assertEqual(int(ups[0][0]), 12)
        rb = upstream_requests(self.b)
        self.assertEqual(rb.get("create", 0), 0, rb)  # nothing resubmitted by the new leader
        print("  node-b led %.1f s after the kill; finished the rest with %s (%.0f s in all)" %
              (took, rb, time.time() - started))

    def test_mixed_channels_local_tasks_of_a_follower(self):
        # A local channel beside the Ark one: the leader routes every queued task, those of the
        # follower too; a local one is rendered by either node's render pool, at once.
        conf = {"channels": [{"name": "local", "type": "local"},
                             channel(self.sim, priority=10, models={FAST: UP_FAST})]}
        for srv in (self.a, self.b):
            with open(os.path.join(srv.data, "vidgate.json"), "w") as f:
                json.dump(conf, f)
            st, _, j = srv.api("POST", "/admin/reload", key=self.a.admin_key)
            self.assertEqual(st, 200, j)
        kid, key = self.a.new_key("mixed", "50.00")
        local, remote = [], []
        for i in range(4):
            st, _, j = self.b.submit(key, model=PRO, prompt="local on the follower %d" % i)
            self.assertEqual(st, 200, j)
            local.append(j["id"])
            st, _, j = self.b.submit(key, model=FAST, prompt="ark on the follower %d" % i)
            self.assertEqual(st, 200, j)
            remote.append(j["id"])
        started = time.time()
        tasks = [self.b.wait_task(t, key, timeout=60) for t in local + remote]
        self.assertEqual({t["status"] for t in tasks}, {"completed"}, tasks)
        chans = dict(self.a.sql("SELECT id, channel FROM tasks WHERE key_id = ?", (kid,)))
        self.assertEqual({chans[t] for t in local}, {"local"})
        self.assertEqual({chans[t] for t in remote}, {"ark-a"})
        self.assertEqual(upstream_requests(self.b), {})
        print("\n  4 local + 4 Ark tasks submitted on the follower, done in %.1f s" %
              (time.time() - started))


if __name__ == "__main__":
    unittest.main()
