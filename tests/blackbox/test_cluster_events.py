"""Three vidgated nodes on one PostgreSQL database tell each other what changed
(VG_TEST_STORE=postgresql; skipped on SQLite).

- A key revoked on node A is refused by B and C within 1 s (measured from the revoke's reply to
  each node's first 401, printed); a key change (allowed models) is seen by B at once.
- A reload on A (POST /admin/reload) makes B and C reload their own configuration files within
  1 s (a model price, read back from each node).
- A key limited to 60 requests a minute gets about 60 (within 10 %) from the three nodes
  together, not 3 × 60 (printed).
- The database stops: a node answers 503 `unavailable` with Retry-After, on authenticated routes
  too (no key is accepted from a cache that can no longer hear of revocations); the database
  starts again: the same node answers 200 by itself (no restart; the time is printed).

The nodes run on a private PostgreSQL cluster (scripts/pg-test-cluster) of this module, which it
stops and starts; the shared one of VG_TEST_PG_URL is left alone.
"""
import glob
import json
import os
import shlex
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, USE_PG, Server, _psql, wait_for

FAST = "doubao-seedance-2-0-fast"
CLUSTER = os.path.join(ROOT, "scripts", "pg-test-cluster")


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    return found[-1]


def as_owner(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


def wait_until(fn, timeout, what):
    return wait_for(fn, timeout, what, step=0.01)


@unittest.skipUnless(USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class ClusterEventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg_dir = tempfile.mkdtemp(prefix="vg-pg-events-")
        url = subprocess.run([CLUSTER, "start", cls.pg_dir], check=True, capture_output=True,
                             text=True, timeout=120).stdout.strip()
        _psql(url, "CREATE DATABASE vg;")
        cls.db_url = url.replace("/postgres?", "/vg?")
        cls.cfgs, cls.nodes = [], []
        try:
            for i, name in enumerate(("node-a", "node-b", "node-c")):
                fd, cfg = tempfile.mkstemp(suffix=".json", prefix="vg-events-")
                os.close(fd)
                cls.cfgs.append(cfg)
                cls.write_price(cfg, "1.0")
                env = {"VIDGATE_ADMIN_KEY": cls.nodes[0].admin_key} if cls.nodes else None
                cls.nodes.append(Server(args=["--node", name, "--config", cfg],
                                        database=cls.db_url, env=env))
        except Exception:
            cls.tearDownClass()
            raise
        cls.a, cls.b, cls.c = cls.nodes

    @classmethod
    def tearDownClass(cls):
        try:
            for n in reversed(cls.nodes):
                n.close()
        finally:
            for cfg in cls.cfgs:
                os.unlink(cfg)
            subprocess.run([CLUSTER, "stop", cls.pg_dir], timeout=60)

    @staticmethod
    def write_price(path, price):
        with open(path, "w") as f:
            json.dump({"models": [{"name": FAST, "prices": {"480p": price}}]}, f)

    def status(self, node, path, key):
        return node.request("GET", path, key=key, timeout=10).status

    def test_a_revoked_key_is_refused_by_every_node_within_a_second(self):
        kid, key = self.a.new_key("revoked", "0.00")
        for n in self.nodes:  # each node has the key in its cache now
            self.assertEqual(self.status(n, "/v1/me", key), 200)
        st, _, j = self.a.api("DELETE", "/admin/keys/" + kid, key=self.a.admin_key)
        self.assertEqual(st, 200, j)
        revoked_at = time.monotonic()
        delays = {}
        while len(delays) < 2 and time.monotonic() - revoked_at < 3:
            for name, n in (("B", self.b), ("C", self.c)):
                if name not in delays and self.status(n, "/v1/models/" + FAST, key) == 401:
                    delays[name] = time.monotonic() - revoked_at
        print("\n  revoke on A -> first 401: B %.1f ms, C %.1f ms" %
              (delays.get("B", -1) * 1000, delays.get("C", -1) * 1000))
        self.assertEqual(set(delays), {"B", "C"})
        self.assertLess(max(delays.values()), 1.0)

    def test_a_key_change_is_seen_by_another_node_at_once(self):
        # No balance: an allowed model is refused for funds (402), a disallowed one for the
        # model (403), and no task is ever created.
        kid, key = self.a.new_key("changed", "0.00")
        st, _, j = self.b.submit(key)
        self.assertEqual((st, j["error"]["code"]), (402, "insufficient_quota"), j)
        st, _, j = self.a.api("PATCH", "/admin/keys/" + kid,
                              {"allowed_models": ["doubao-seedance-2-0"]}, key=self.a.admin_key)
        self.assertEqual(st, 200, j)
        changed_at = time.monotonic()
        wait_until(lambda: self.b.submit(key)[0] == 403, 2, "B to see the allowed models")
        delay = time.monotonic() - changed_at
        print("\n  key change on A -> seen by B: %.1f ms" % (delay * 1000))
        self.assertLess(delay, 1.0)

    def price_on(self, node, key):
        st, _, m = node.api("GET", "/v1/models/" + FAST, key=key)
        self.assertEqual(st, 200, m)
        return m["pricing"]["per_million_tokens"]["480p"]

    def test_b_a_reload_on_one_node_reloads_the_others(self):
        _, key = self.a.new_key("reader", "0.00")
        for n in self.nodes:
            self.assertEqual(self.price_on(n, key), "1.000000")
        try:
            for cfg in self.cfgs:
                self.write_price(cfg, "2.5")
            st, _, rep = self.a.api("POST", "/admin/reload", key=self.a.admin_key)
            self.assertEqual(st, 200, rep)
            reloaded_at = time.monotonic()
            self.assertEqual(self.price_on(self.a, key), "2.500000")
            delays = {}
            while len(delays) < 2 and time.monotonic() - reloaded_at < 3:
                for name, n in (("B", self.b), ("C", self.c)):
                    if name not in delays and self.price_on(n, key) == "2.500000":
                        delays[name] = time.monotonic() - reloaded_at
            print("\n  reload on A -> new price on B %.1f ms, C %.1f ms" %
                  (delays.get("B", -1) * 1000, delays.get("C", -1) * 1000))
            self.assertEqual(set(delays), {"B", "C"})
            self.assertLess(max(delays.values()), 1.0)
            time.sleep(0.3)  # a node does not announce a reload it was told of: no echo
            for n in self.nodes:
                self.assertEqual(n.log_text().count("reload: changed models"), 1, n.log_text())
        finally:
            for cfg in self.cfgs:
                self.write_price(cfg, "1.0")
            self.a.api("POST", "/admin/reload", key=self.a.admin_key)
            for n in self.nodes:
                wait_until(lambda: self.price_on(n, key) == "1.000000", 3, "the price back")

    def test_c_the_rate_limit_is_shared_by_the_nodes(self):
        _, key = self.a.new_key("limited", "0.00", rate_limit_per_min=60)
        allowed, retry_after = 0, set()
        started = time.monotonic()
        for i in range(150):
            r = self.nodes[i % 3].request("GET", "/v1/models/" + FAST, key=key, timeout=10)
            self.assertIn(r.status, (200, 429))
            allowed += r.status == 200
            if r.status == 429:
                retry_after.add(r.headers.get("retry-after"))
        took = time.monotonic() - started
        print("\n  rate_limit_per_min=60, 150 requests over 3 nodes in %.2f s: %d allowed"
              % (took, allowed))
        self.assertGreaterEqual(allowed, 54)
        self.assertLessEqual(allowed, 66)
        self.assertNotIn(None, retry_after)

    def test_d_a_node_rides_out_a_database_outage(self):
        _, key = self.a.new_key("outage", "0.00")
        self.assertEqual(self.status(self.b, "/v1/me", key), 200)  # cached on B
        data = os.path.join(self.pg_dir, "data")
        with open(os.path.join(data, "postmaster.opts")) as f:
            opts = shlex.split(f.read())[3:]  # after: postgres "-D" "DIR"
        subprocess.run(as_owner([pg_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]),
                       check=True, capture_output=True, timeout=60)
        try:
            def down():
                r = self.b.request("GET", "/v1/models/" + FAST, key=key, timeout=10)
                return r if r.status == 503 else None
            r = wait_until(down, 3, "503 from B")
            self.assertEqual(json.loads(r.body)["error"]["code"], "unavailable")
            self.assertTrue(r.headers.get("retry-after", "").isdigit(), r.headers)
            for path in ("/v1/me", "/v1/models/" + FAST):
                r = self.b.request("GET", path, key=key, timeout=10)
                self.assertEqual(r.status, 503, path)
                self.assertIn("retry-after", r.headers)
            r = self.b.request("GET", "/readyz", timeout=10)
            self.assertEqual(r.status, 503)
            self.assertIn("retry-after", r.headers)
        finally:
            subprocess.run(as_owner([pg_bin("pg_ctl"), "-D", data, "-l",
                                     os.path.join(self.pg_dir, "server.log"), "-w", "-o",
                                     " ".join(shlex.quote(o) for o in opts), "start"]),
                           check=True, capture_output=True, timeout=60)
        back_at = time.monotonic()
        wait_until(lambda: self.status(self.b, "/v1/me", key) == 200, 15, "B to recover")
        print("\n  database back -> B answers 200 after %.1f ms" %
              ((time.monotonic() - back_at) * 1000))
        for n in self.nodes:
            wait_until(lambda: self.status(n, "/v1/me", key) == 200, 15, "every node to recover")
        wait_until(lambda: "events: the database is back" in self.b.log_text(), 5,
                   "B's listener to subscribe again")
        self.assertIn("events: lost the database", self.b.log_text())


if __name__ == "__main__":
    unittest.main()
