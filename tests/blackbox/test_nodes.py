"""Two vidgated nodes on one PostgreSQL database (VG_TEST_STORE=postgresql; skipped on SQLite):
keys, money and tasks are shared, each task is rendered once by one of them, both sign links with
one presigning secret, and the shared ledger audits clean."""
import os
import unittest

from harness import USE_PG, VIDGATED, Server, store_args
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


if __name__ == "__main__":
    unittest.main()
