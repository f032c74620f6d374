"""The `vidgate` CLI against the real server: generate end to end (plain progress lines when stderr
is not a terminal, the downloaded MP4 checked with vg-probe), --json, status, list, cancel, download,
me, the admin key commands, and the documented exit codes (2 usage, 3 API error, 4 network error).

Every run gets its own environment: VIDGATE_BASE_URL and the key are set explicitly and any
VIDGATE_* variable of the caller's shell is dropped, so the tests cannot talk to another server.
Tasks are kept small (480p, 4 s) to stay fast."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness
from harness import Server
from images import png_bytes

VIDGATE = getattr(harness, "VIDGATE", os.path.join(harness.BUILD, "vidgate"))
SMALL = ["--resolution", "480p", "--ratio", "16:9", "--seconds", "4"]
PROGRESS_LINE = re.compile(r"^task_\w+ (queued|running|completed|failed|cancelled) \d{1,3}% \d+s$")
EXIT_USAGE, EXIT_API, EXIT_NETWORK = 2, 3, 4


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("cli-user", "100.00")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vg-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    # -- helpers ---------------------------------------------------------------------------
    def cli(self, *args, key=None, admin_key=None, base_url=None, timeout=180):
        """Runs vidgate in the test's directory; returns the CompletedProcess (text mode)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        env["VIDGATE_BASE_URL"] = base_url or self.srv.base_url
        env["VIDGATE_API_KEY"] = self.key if key is None else key
        if admin_key:
            env["VIDGATE_ADMIN_KEY"] = admin_key
        p = subprocess.run([VIDGATE] + list(args), cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        for secret in (env["VIDGATE_API_KEY"], admin_key):
            if secret:
                self.assertNotIn(secret, p.stdout + p.stderr, "the CLI printed a key")
        return p

    def ok(self, *args, **kw):
        p = self.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, "vidgate %s\nstdout: %s\nstderr: %s" %
                         (" ".join(args), p.stdout, p.stderr))
        return p

    def ok_json(self, *args, **kw):
        return json.loads(self.ok(*args, **kw).stdout)

    def path(self, name):
        return os.path.join(self.dir, name)

    def submit_no_wait(self, prompt="a lighthouse at dusk"):
        task_id = self.ok("generate", "--prompt", prompt, "--no-wait", *SMALL).stdout.strip()
        self.assertRegex(task_id, r"^task_[0-9A-Z]{26}$")
        return task_id

    # -- generate --------------------------------------------------------------------------
    def test_generate_waits_downloads_and_shows_plain_progress(self):
        p = self.ok("generate", "--prompt", "waves rolling onto a beach", "-o", "clip.mp4",
                    "--seed", "42", *SMALL)
        self.assertEqual(p.stdout.strip().splitlines()[-1], "clip.mp4")
        lines = p.stderr.strip().splitlines()
        self.assertTrue(lines, "no progress lines on stderr")
        for line in lines:
            self.assertRegex(line, PROGRESS_LINE)  # stderr is a pipe: no \r, no escape codes
        self.assertIn(" completed 100% ", lines[-1])
        self.assertEqual(len(lines), len(set(lines)), "a line repeats without a change")
        info = harness.probe(self.path("clip.mp4"))
        self.assertEqual(info["codec"], "h264")
        self.assertEqual((info["width"], info["height"]), (864, 496))
        self.assertEqual(info["frames"], 97)  # 24 * 4 + 1
        self.assertFalse(os.path.exists(self.path("clip.mp4.part")))

    def test_generate_json_then_status_download_and_list(self):
        p = self.ok("generate", "--prompt", "a paper boat on a pond", "--json", "-q", *SMALL)
        task = json.loads(p.stdout)  # stdout holds the JSON alone
        self.assertEqual(task["status"], "completed")
        self.assertEqual(task["object"], "video")
        self.assertEqual(task["size"], "864x496")
        task_id = task["id"]
        self.assertTrue(os.path.getsize(self.path(task_id + ".mp4")) > 0)  # default -o

        human = self.ok("status", task_id).stdout
        self.assertIn(task_id, human)
        self.assertIn("completed", human)
        again = self.ok_json("status", task_id, "--json")
        self.assertEqual((again["id"], again["status"]), (task_id, "completed"))

        thumb = self.ok("download", task_id, "--variant", "thumbnail", "-o", "thumb.img")
        self.assertEqual(thumb.stdout.strip(), "thumb.img")
        with open(self.path("thumb.img"), "rb") as f:
            head = f.read(12)
        self.assertTrue(head.startswith(b"\xff\xd8\xff") or head[8:12] == b"WEBP", head)
        video = self.ok("download", task_id).stdout.strip()
        self.assertEqual(video, task_id + ".mp4")
        self.assertEqual(harness.probe(self.path(video))["codec"], "h264")

        listing = self.ok_json("list", "--json")
        self.assertEqual(listing["object"], "list")
        self.assertIn(task_id, [t["id"] for t in listing["data"]])
        self.assertIn("has_more", listing)
        self.assertEqual(len(self.ok_json("list", "--json", "--limit", "1")["data"]), 1)
        done = self.ok_json("list", "--json", "--status", "completed")["data"]
        self.assertTrue(done and all(t["status"] == "completed" for t in done))
        table = self.ok("list").stdout.splitlines()
        self.assertTrue(table[0].startswith("ID"))
        self.assertTrue(any(row.startswith(task_id) and "completed" in row for row in table))

    def test_generate_with_local_image_file(self):
        with open(self.path("first.png"), "wb") as f:
            f.write(png_bytes(640, 360))
        # adaptive follows the first frame: 640x360 is 16:9, so 864x496 at 480p.
        p = self.ok("generate", "--prompt", "the scene comes alive", "--image", "first.png",
                    "--ratio", "adaptive", "--resolution", "480p", "--seconds", "4", "-o", "i.mp4",
                    "-q")
        self.assertEqual(p.stdout.strip(), "i.mp4")
        info = harness.probe(self.path("i.mp4"))
        self.assertEqual((info["width"], info["height"]), (864, 496))

    def test_no_wait_then_wait(self):
        task_id = self.submit_no_wait()
        task = self.ok_json("wait", task_id, "--json")
        self.assertEqual((task["id"], task["status"]), (task_id, "completed"))

    def test_wait_timeout_exits_5_or_finishes(self):
        ids = [self.submit_no_wait("queue filler %d" % i) for i in range(4)]
        p = self.cli("wait", ids[-1], "--timeout", "1")
        self.assertIn(p.returncode, (0, 5), p.stderr)
        if p.returncode == 5:
            self.assertIn("continues on the server", p.stderr)
            self.assertEqual(p.stdout, "")
        for task_id in ids:
            self.srv.wait_task(task_id, self.key)

    def test_cancel_queued_task(self):
        # Two render workers: the last of five submissions is most likely still queued.
        ids = [self.submit_no_wait("cancel candidate %d" % i) for i in range(5)]
        p = self.cli("cancel", ids[-1])
        if p.returncode == EXIT_API:  # lost the race: already running
            self.assertIn("task_not_cancellable", p.stderr)
        else:
            self.assertEqual(p.returncode, 0, p.stderr)
            task_id, status = p.stdout.split()
            self.assertEqual(task_id, ids[-1])
            self.assertIn(status, ("cancelled", "completed"))
            if status == "cancelled":
                w = self.cli("wait", ids[-1])
                self.assertEqual(w.returncode, 1, w.stderr)  # the task was cancelled
                self.assertIn("cancelled", w.stderr)
        for task_id in ids[:-1]:
            self.srv.wait_task(task_id, self.key)

    # -- account ---------------------------------------------------------------------------
    def test_me(self):
        me = self.ok_json("me", "--json")
        self.assertEqual((me["id"], me["object"]), (self.key_id, "api_key"))
        self.assertRegex(me["balance"], r"^-?\d+\.\d{6}$")
        human = self.ok("me").stdout
        self.assertIn("cli-user", human)
        self.assertIn("balance", human)

    def test_admin_keys_create_list_revoke(self):
        admin = self.srv.admin_key
        created = self.ok_json("admin", "keys", "create", "--name", "from-cli", "--balance",
                               "5.00", "--json", key="", admin_key=admin)
        self.assertTrue(created["id"].startswith("key_"))
        self.assertTrue(created["key"].startswith("sk-"))
        self.assertEqual(created["name"], "from-cli")
        self.assertEqual(created["balance"], "5.000000")

        human = self.cli("admin", "keys", "create", "--name", "shown", key="", admin_key=admin)
        self.assertEqual(human.returncode, 0, human.stderr)
        secrets = re.findall(r"^\s*(sk-[A-Za-z0-9_-]{40})\s*$", human.stdout, re.M)
        self.assertEqual(len(secrets), 1, "the new secret should stand on its own line")

        me = self.ok_json("me", "--json", key=created["key"])
        self.assertEqual(me["name"], "from-cli")

        listing = self.ok_json("admin", "keys", "list", "--json", key="", admin_key=admin)
        self.assertIn(created["id"], [k["id"] for k in listing["data"]])
        table = self.ok("admin", "keys", "list", key="", admin_key=admin).stdout
        self.assertIn(created["id"], table)

        revoked = self.ok("admin", "keys", "revoke", created["id"], key="", admin_key=admin)
        self.assertIn(created["id"], revoked.stdout)
        after = self.cli("me", key=created["key"])
        self.assertEqual(after.returncode, EXIT_API, after.stderr)
        self.assertIn("invalid_api_key", after.stderr)

    def test_admin_keys_credit_debit_update_ledger(self):
        admin = self.srv.admin_key
        kid, _ = self.srv.new_key("money-cli", "5.00")
        after = self.ok_json("admin", "keys", "credit", kid, "--amount", "2.50", "--note", "promo",
                             "--json", key="", admin_key=admin)
        self.assertEqual(after["balance"], "7.500000")
        text = self.ok("admin", "keys", "debit", kid, "--amount", "1", key="", admin_key=admin)
        self.assertRegex(text.stdout, r"balance:\s+6\.500000")
        too_much = self.cli("admin", "keys", "debit", kid, "--amount", "100", key="",
                            admin_key=admin)
        self.assertEqual(too_much.returncode, EXIT_API, too_much.stderr)
        self.assertIn("insufficient_balance", too_much.stderr)
        upd = self.ok_json("admin", "keys", "update", kid, "--name", "renamed", "--max-active", "3",
                           "--rate-limit", "60", "--model", "doubao-seedance-2-0-fast",
                           "--expires", "2030-01-01T00:00:00Z", "--json", key="", admin_key=admin)
        self.assertEqual(upd["name"], "renamed")
        self.assertEqual(upd["allowed_models"], ["doubao-seedance-2-0-fast"])
        self.assertEqual(upd["limits"], {"max_active_tasks": 3, "rate_limit_per_min": 60})
        self.assertEqual(upd["expires_at"], 1893456000)
        upd = self.ok_json("admin", "keys", "update", kid, "--all-models", "--expires", "never",
                           "--json", key="", admin_key=admin)
        self.assertIsNone(upd.get("allowed_models"))
        self.assertIsNone(upd.get("expires_at"))
        ledger = self.ok_json("admin", "keys", "ledger", kid, "--json", key="", admin_key=admin)
        kinds = [(e["kind"], e["amount"], e["note"]) for e in ledger["data"]]
        self.assertEqual(kinds[:2], [("debit", "1.000000", ""), ("credit", "2.500000", "promo")])
        page = self.ok_json("admin", "keys", "ledger", kid, "--limit", "1", "--json", key="",
                            admin_key=admin)
        self.assertEqual(len(page["data"]), 1)
        self.assertTrue(page["has_more"])
        table = self.ok("admin", "keys", "ledger", kid, key="", admin_key=admin).stdout
        self.assertIn("promo", table)
        self.assertIn("KIND", table)
        for bad in (["admin", "keys", "credit", kid],  # --amount required
                    ["admin", "keys", "update", kid],  # nothing to change
                    ["admin", "keys", "update", kid, "--expires", "tomorrow"],
                    ["admin", "keys", "update", kid, "--model", "x", "--all-models"]):
            with self.subTest(args=bad):
                p = self.cli(*bad, key="", admin_key=admin)
                self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)

    def test_admin_usage_and_tasks(self):
        admin = self.srv.admin_key
        kid, key = self.srv.new_key("usage-cli", "10.00")
        status, _, t = self.srv.submit(key)
        self.assertEqual(status, 200, t)
        done = self.srv.wait_task(t["id"], key)
        self.assertEqual(done["status"], "completed")
        day = __import__("time").strftime("%Y-%m-%d", __import__("time").gmtime())
        by_key = self.ok_json("admin", "usage", "--from", day, "--by", "key", "--json", key="",
                              admin_key=admin)
        rows = {r["key_id"]: r for r in by_key["data"]}
        self.assertIn(kid, rows)
        self.assertEqual(rows[kid]["name"], "usage-cli")
        self.assertEqual(rows[kid]["tasks"], 1)
        self.assertEqual(rows[kid]["cost"], done["cost"])
        by_model = self.ok_json("admin", "usage", "--from", day + "T00:00:00Z", "--to",
                                str(int(__import__("time").time()) + 60), "--json", key="",
                                admin_key=admin)
        self.assertIn("doubao-seedance-2-0-fast", [r["model"] for r in by_model["data"]])
        table = self.ok("admin", "usage", "--by", "key", key="", admin_key=admin).stdout
        self.assertIn("usage-cli", table)
        self.assertIn("all", table)
        future = self.ok_json("admin", "usage", "--from", "2099-01-01", "--json", key="",
                              admin_key=admin)
        self.assertEqual(future["data"], [])
        for bad in (["admin", "usage", "--from", "2026-02-30"], ["admin", "usage", "--by", "day"]):
            p = self.cli(*bad, key="", admin_key=admin)
            self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)
        tasks = self.ok_json("admin", "tasks", "--key-id", kid, "--json", key="", admin_key=admin)
        self.assertEqual([x["id"] for x in tasks["data"]], [t["id"]])
        self.assertEqual(tasks["data"][0]["key_id"], kid)
        done_only = self.ok_json("admin", "tasks", "--status", "completed", "--limit", "100",
                                 "--json", key="", admin_key=admin)
        self.assertIn(t["id"], [x["id"] for x in done_only["data"]])
        table = self.ok("admin", "tasks", "--key-id", kid, key="", admin_key=admin).stdout
        self.assertIn(t["id"], table)
        self.assertIn(kid, table)
        # the server takes ISO 8601 too
        status, _, j = self.srv.api("GET", "/admin/usage?group_by=key&from=%sT00:00:00Z" % day,
                                    key=admin)
        self.assertEqual(status, 200, j)
        self.assertIn("usage-cli", [r.get("name") for r in j["data"]])
        status, _, j = self.srv.api("GET", "/admin/usage?from=yesterday", key=admin)
        self.assertEqual(status, 400, j)
        self.assertEqual(j["error"]["param"], "from")

    def test_admin_commands_need_an_admin_key(self):
        p = self.cli("admin", "keys", "list", key="")  # no VIDGATE_ADMIN_KEY, no --key
        self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)
        p = self.cli("admin", "keys", "list", "--key", self.key)  # a user key is refused
        self.assertEqual(p.returncode, EXIT_API, p.stderr)

    # -- exit codes ------------------------------------------------------------------------
    def test_bad_key_exits_3_with_the_envelope(self):
        bad = "sk-" + "x" * 40
        p = self.cli("me", key=bad)
        self.assertEqual(p.returncode, EXIT_API)
        self.assertIn("invalid_api_key", p.stderr)
        self.assertIn("401", p.stderr)
        self.assertEqual(p.stdout, "")
        p = self.cli("status", "task_00000000000000000000000000", "--json")
        self.assertEqual(p.returncode, EXIT_API)
        self.assertIn("task_not_found", p.stderr)
        self.assertEqual(p.stdout, "")  # errors never go to stdout, even with --json

    def test_usage_errors_exit_2(self):
        cases = [
            ["generate"],  # --prompt is required
            ["generate", "--prompt", "x", "--seconds", "four"],
            ["generate", "--prompt", "x", "--image", "no-such-file.png"],
            ["generate", "--prompt", "x", "--bogus"],
            ["status"],  # ID missing
            ["download", "task_00000000000000000000000000", "--variant", "poster"],
            ["list", "--limit", "0"],
            ["frobnicate"],
        ]
        for args in cases:
            with self.subTest(args=args):
                p = self.cli(*args)
                self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)
                self.assertTrue(p.stderr.startswith("vidgate: "), p.stderr)

    def test_unreachable_server_exits_4(self):
        p = self.cli("me", base_url="http://127.0.0.1:%d" % closed_port(), timeout=30)
        self.assertEqual(p.returncode, EXIT_NETWORK, p.stderr)
        self.assertIn("cannot reach", p.stderr)

    def test_help(self):
        p = self.ok("--help")
        for word in ("generate", "status", "wait", "download", "list", "cancel", "me",
                     "admin keys create", "admin keys credit", "admin keys debit",
                     "admin keys update", "admin keys ledger", "admin usage", "admin tasks",
                     "exit status"):
            self.assertIn(word, p.stdout)
        self.assertIn("--prompt", self.ok("generate", "--help").stdout)


if __name__ == "__main__":
    unittest.main()
