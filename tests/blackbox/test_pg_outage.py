"""The PostgreSQL database going away and coming back (VG_TEST_STORE=postgresql; skipped on
SQLite, whose file cannot go away under a running server the same way): the server's connections
are terminated and new ones refused (ALLOW_CONNECTIONS false on the test cluster, the server's own
database only). Meanwhile the process keeps answering: /healthz 200, /readyz and store-backed
requests 503 `unavailable`, nothing charged. Once the database accepts connections again the
server reconnects on its own, the tasks that were in flight complete, new work is accepted, and
`vidgated check` finds the money exact."""
import subprocess
import time
import unittest

import harness
from harness import USE_PG, VIDGATED, Server, store_args


def set_connections(srv, allowed):
    """Lets connections into srv's database, or refuses new ones and ends the open ones."""
    db = srv.pg_database
    if allowed:
        harness._psql(harness.PG_URL, "ALTER DATABASE %s ALLOW_CONNECTIONS true;" % db)
    else:
        harness._psql(harness.PG_URL,
                      "ALTER DATABASE %s ALLOW_CONNECTIONS false; SELECT "
                      "pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s';"
                      % (db, db))


@unittest.skipUnless(USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class DatabaseAwayTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        set_connections(self.srv, True)  # whatever the test did, so that close() can drop it
        self.srv.close()

    def test_requests_fail_soft_and_the_server_reconnects(self):
        srv = self.srv
        _, key = srv.new_key("away", "10.00")
        st, _, t = srv.submit(key)
        self.assertEqual(srv.wait_task(t["id"], key)["status"], "completed")
        _, _, me = srv.api("GET", "/v1/me", key=key)
        set_connections(srv, False)
        for _ in range(3):
            self.assertEqual(srv.request("GET", "/healthz").status, 200)
            st, _, j = srv.api("GET", "/readyz")
            self.assertEqual((st, j["error"]["code"]), (503, "unavailable"), j)
            st, _, j = srv.api("GET", "/v1/me", key=key)
            self.assertEqual((st, j["error"]["code"]), (503, "unavailable"), j)
            st, _, j = srv.submit(key)
            self.assertEqual((st, j["error"]["code"]), (503, "unavailable"), j)
            time.sleep(0.3)
        set_connections(srv, True)
        deadline = time.time() + 20
        while srv.request("GET", "/readyz").status != 200:
            self.assertLess(time.time(), deadline, "the server did not reconnect")
            time.sleep(0.2)
        self.assertEqual(srv.api("GET", "/v1/me", key=key)[2]["balance"], me["balance"])
        st, _, t = srv.submit(key)
        self.assertEqual(st, 200, t)
        self.assertEqual(srv.wait_task(t["id"], key)["status"], "completed")

    def test_tasks_in_flight_complete_after_the_outage(self):
        srv = self.srv
        _, key = srv.new_key("inflight", "10.00")
        ids = []
        for _ in range(3):
            st, _, t = srv.submit(key)
            self.assertEqual(st, 200, t)
            ids.append(t["id"])
        set_connections(srv, False)
        time.sleep(4)  # renders finish (or wait) while no commit can reach the database
        set_connections(srv, True)
        t0 = time.time()
        for tid in ids:
            self.assertEqual(srv.wait_task(tid, key, timeout=90)["status"], "completed", tid)
        print("\n  all tasks completed %.1f s after the database came back" % (time.time() - t0))
        me = srv.api("GET", "/v1/me", key=key)[2]
        self.assertEqual(me["held"], "0.000000", me)
        r = subprocess.run([VIDGATED, "check", "--data", srv.data] + store_args(srv.data),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(" 0 difference(s)", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
