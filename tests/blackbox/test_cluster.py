"""Three vidgated nodes (a, b, c) on one PostgreSQL database and one S3 bucket (s3rver), each with
its own data directory, running the local engine (model doubao-seedance-2-0-mini, the cheapest
render: 480p, 4 s) and an Ark channel on the simulator (doubao-seedance-2-0-fast). Skipped unless
VG_TEST_STORE=postgresql with VG_TEST_PG_URL, and s3rver can be installed (as test_s3.py).

Chaos: VG_CLUSTER_TASKS tasks (VG_CLUSTER_LOCAL of them local, the rest Ark) are submitted
round-robin to the three nodes by a few client threads, every one with an Idempotency-Key except
one in ten; some are sent again to another node after their 2xx (same task, replayed). Meanwhile
a killer thread kill -9s a random node at random moments at least VG_CLUSTER_KILLS times and
restarts it after 0-5 s, sometimes under the same --node name (which releases its leases at once),
sometimes under a new one (its old leases must expire), and once, when the lease is short enough
for the time budget (task_lease_s), leaves it down longer than the lease so the live nodes must
take over its leased tasks. A submit that dies with its node is sent again, same Idempotency-Key,
to the next node: no 2xx task may be lost. Then:
  - every 2xx task (and every task in the database) reaches a final status: completed, as the
    simulator runs without faults;
  - upstream, each Ark task was created once: the simulator's creates (2xx, by safety_identifier)
    map to the tasks' logged attempts, at most one per task, and the simulator holds exactly one
    task per Ark task;
  - locally, "rendered once" cannot mean one render under kill -9: a render whose node dies
    restarts on a later claim (the attempts column counts them). What must hold, and is checked:
    no two live processes render one task at the same time (a monitor samples the running local
    tasks' (attempt, lease owner); a task claimed again must have lost its previous owner to a kill
    in between), and each result is published and completed once (one "completed" log line at
    most across every node's logs, none saying a completion could not be recorded);
  - `vidgated check --database URL` exits 0 with no difference;
  - the captures equal the costs of the completed tasks, every failed or cancelled task's hold is
    released and nothing is held at the end;
  - every completed task's video downloads from every node (each node's own presigned URL, the
    object fetched from the bucket on a node that did not make it), byte-identical.
Revocation: a key revoked on one node is refused by the other two within 1 s (each node in turn;
the delays are printed).

Figures (tasks, kills, takeovers, time to final, revocation delays) go to stderr.
Knobs: VG_CLUSTER_TASKS (default 240, 120 for a build directory named *asan*), VG_CLUSTER_LOCAL
(local renders among them, default 12, 6 with ASan: a mini render takes seconds of a core, many
more on a busy 2-core machine, so the rest goes to the simulator; VG_CLUSTER_TASKS=240
VG_CLUSTER_LOCAL=120 is the half-and-half run), VG_CLUSTER_KILLS (default 5),
VG_CLUSTER_SEED (the killer's and clients' random seed, printed), VG_CLUSTER_MODES (restart modes
the killer draws from, default "same,rename,long"; narrowing it helps find which one breaks).
"""
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import USE_PG, VIDGATED, Server, store_args
from test_ark import FAST, SIM_KEY, UP_FAST, Sim, channel
from test_s3 import CREDS, S3Server

MINI = "doubao-seedance-2-0-mini"
FINAL = ("completed", "failed", "cancelled")
# A sanitizer build (scripts/run-tests names it build-asan) renders and answers a few times slower.
SANITIZED = "asan" in os.path.basename(harness.BUILD)
N_TASKS = int(os.environ.get("VG_CLUSTER_TASKS", "120" if SANITIZED else "240"))
N_LOCAL = min(N_TASKS, int(os.environ.get("VG_CLUSTER_LOCAL", "6" if SANITIZED else "12")))
N_KILLS = int(os.environ.get("VG_CLUSTER_KILLS", "5"))
SEED = int(os.environ.get("VG_CLUSTER_SEED", str(random.randrange(1 << 30))))
MODES = os.environ.get("VG_CLUSTER_MODES", "same,rename,long").split(",")
CLIENTS = 6


def log(msg):
    sys.stderr.write("  [cluster] %s\n" % msg)
    sys.stderr.flush()


LEASE_S = 5  # task_lease_s: a node kept down longer than this must have its renders taken over


def sha256(b):
    return hashlib.sha256(b).hexdigest()


class Node:
    """One vidgated of the cluster: a harness Server whose --node name may change on restart."""

    def __init__(self, srv, name):
        self.srv, self.name, self.base = srv, name, name
        self.incarnation = 0
        self.lock = threading.Lock()  # kill/start against the end-of-test stop
        self.up = True

    def rename(self, name):
        i = self.srv.args.index("--node")
        self.srv.args[i + 1] = name
        self.name = name


@unittest.skipUnless(USE_PG, "needs VG_TEST_STORE=postgresql and VG_TEST_PG_URL")
class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = S3Server()  # raises SkipTest without node/npm/s3rver
        cls.sim = None
        cls.nodes = []
        try:
            # A submit's reply is never lost here but kill -9 loses many: the sim's own pace is
            # quick so that the Ark half finishes well within the budget.
            cls.sim = Sim(queue_ms=200, run_ms=600)
            cls.content = cls.s3.url("cluster")
            cls.conf_dir = os.path.join(cls.s3.dir, "conf")
            os.makedirs(cls.conf_dir)
            conf = {"channels": [
                {"name": "local", "type": "local", "models": {MINI: MINI}},
                channel(cls.sim, "ark", models={FAST: UP_FAST}, timeout_ms=3000,
                        requests_per_s=200, expected_s=1)]}
            conf["task_lease_s"] = LEASE_S
            cls.conf_path = os.path.join(cls.conf_dir, "vidgate.json")
            with open(cls.conf_path, "w") as f:
                json.dump(conf, f)
            env = dict(CREDS)
            env.update({"ARK_KEY": SIM_KEY, "VIDGATE_RENDER_WORKERS": "1",
                        "VIDGATE_UPSTREAM_POLL_MIN_MS": "200",
                        "VIDGATE_UPSTREAM_POLL_MAX_MS": "1000"})
            database, admin = None, None
            for name in ("a", "b", "c"):
                e = dict(env)
                if admin:
                    e["VIDGATE_ADMIN_KEY"] = admin
                srv = Server(env=e, database=database, start=False,
                             args=["--node", name, "--content", cls.content,
                                   "--config", cls.conf_path])
                srv.start()
                if database is None:
                    database, admin = store_args(srv.data)[1], srv.admin_key
                srv.admin_key = admin
                cls.nodes.append(Node(srv, name))
            cls.database = database
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        errors = []
        for n in reversed(cls.nodes):  # a, which owns the database, last
            try:
                n.srv.close()
            except Exception as e:  # every node is closed, the first problem reported
                errors.append(e)
        if cls.sim:
            try:
                cls.sim.close()
            except Exception as e:
                errors.append(e)
        cls.s3.close()
        if errors:
            raise errors[0]

    # -- helpers -----------------------------------------------------------------------------
    def sql(self, query, params=()):
        return self.nodes[0].srv.sql(query, params)

    def new_key(self, name, balance):
        return self.nodes[0].srv.new_key(name, balance)

    def call(self, node, method, path, body=None, key=None, headers=None, timeout=30):
        """(status, headers, JSON or bytes), or None when the node did not answer."""
        try:
            r = node.srv.request(method, path, body, key, headers, timeout=timeout)
        except (OSError, http.client.HTTPException):
            return None
        parsed = r.body
        if r.headers.get("content-type", "").startswith("application/json"):
            try:
                parsed = json.loads(r.body.decode())
            except ValueError:
                pass
        return r.status, r.headers, parsed

    # -- the chaos test ------------------------------------------------------------------------
    def test_chaos_kill9_round_robin(self):
        rng = random.Random(SEED)
        log("seed %d (VG_CLUSTER_SEED), %d tasks (%d local), >= %d kills, modes %s, lease %d s"
            % (SEED, N_TASKS, N_LOCAL, N_KILLS, ",".join(MODES), LEASE_S))
        kid, key = self.new_key("chaos", "100000.00")
        local_ids = set(rng.sample(range(N_TASKS), N_LOCAL))
        accepted = {}        # task index -> task id (2xx)
        submit_t = {}        # task id -> time of its first 2xx
        replays = []         # (index, first id, replayed id, Idempotent-Replayed header)
        unknown = []         # indexes without Idempotency-Key whose node died mid-request
        problems = []        # unexpected replies
        retried = [0]
        lock = threading.Lock()
        events = []          # (time, "kill"|"start", node name)
        takeover = {"leased": [], "stuck": []}
        done = threading.Event()
        next_index = [0]

        def body_of(i):
            model = MINI if i in local_ids else FAST
            return {"model": model, "prompt": "cluster %s %d" % (model, i), "seconds": "4",
                    "metadata": {"resolution": "480p", "ratio": "16:9"}}

        def submit(i, crng):
            body = body_of(i)
            hdrs = {} if i % 10 == 9 else {"Idempotency-Key": "cluster-%d-%d" % (SEED, i)}
            n = i % 3
            deadline = time.time() + 120
            while time.time() < deadline:
                r = self.call(self.nodes[n], "POST", "/v1/video/generations", body, key, hdrs)
                if r is not None and r[0] < 500:
                    break
                if r is not None:  # a live node's 5xx is a fault of its own
                    with lock:
                        problems.append((i, r[0], r[2]))
                if not hdrs:  # it may or may not exist: nothing can ask again safely
                    with lock:
                        unknown.append(i)
                    return
                with lock:
                    retried[0] += 1
                n = (n + 1) % 3  # the same key on the next node
                time.sleep(0.05)
            else:
                with lock:
                    problems.append((i, "no node answered within 120 s"))
                return
            st, _, j = r
            if st // 100 != 2:
                with lock:
                    problems.append((i, st, j))
                return
            with lock:
                accepted[i] = j["id"]
                submit_t.setdefault(j["id"], time.time())
            if hdrs and crng.random() < 0.15:  # the same request again, on another node
                for k in (1, 2):
                    r2 = self.call(self.nodes[(n + k) % 3], "POST", "/v1/video/generations",
                                   body, key, hdrs)
                    if r2 is not None and r2[0] < 500:
                        with lock:
                            replays.append((i, j["id"], r2[2].get("id") if isinstance(
                                r2[2], dict) else r2, r2[1].get("idempotent-replayed")))
                        break

        def client(c):
            crng = random.Random(SEED + c + 1)
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= N_TASKS:
                    return
                submit(i, crng)

        def leased_by(name):
            return [r[0] for r in self.sql(
                "SELECT id FROM tasks WHERE lease_owner = ? AND status IN "
                "('running', 'dispatching', 'finalizing')", (name,))]

        def killer():
            krng = random.Random(SEED ^ 0x5eed)
            modes = [m for m in MODES if m != "long"]
            # One long outage, when it fits the budget: the third kill, on a node holding leases.
            long_at = 2 if "long" in MODES and LEASE_S <= 20 else -1
            k = 0
            while k < N_KILLS and not done.is_set():
                time.sleep(krng.uniform(0.5, 3.0))
                if k == long_at:
                    rows = self.sql("SELECT lease_owner FROM tasks WHERE status = 'running' "
                                    "AND channel = 'local' AND lease_until > 0")
                    owners = [n for n in self.nodes if (n.name,) in rows]
                    node = krng.choice(owners or self.nodes)
                    mode = "long"
                else:
                    node = krng.choice(self.nodes)
                    mode = krng.choice(modes or ["same"])
                with node.lock:
                    node.srv.kill9()
                    node.up = False
                    events.append((time.time(), "kill", node.name))
                held = leased_by(node.name)
                down = krng.uniform(0, 5) if mode != "long" else LEASE_S + 3
                log("kill %d: node %s (%s), %d leased task(s), down %.1f s" %
                    (k + 1, node.name, mode, len(held), down))
                time.sleep(down)
                if mode == "long":
                    # The live nodes must have taken over whatever it held.
                    deadline = time.time() + LEASE_S + 30
                    stuck = held
                    while time.time() < deadline and stuck:
                        stuck = leased_by(node.name)
                        time.sleep(0.2)
                    takeover["leased"] += held
                    takeover["stuck"] += stuck
                if mode == "rename" or (mode == "long" and krng.random() < 0.5):
                    node.incarnation += 1
                    node.rename("%s%d" % (node.base, node.incarnation))
                with node.lock:
                    node.srv.start(timeout=60)
                    node.up = True
                    events.append((time.time(), "start", node.name))
                k += 1

        # The monitor: running local tasks' (attempt, owner), first and last seen.
        # A row keeps its attempt and owner after the owner dies (until a recovery), so what
        # bounds a claim is the sweep before it was first seen (it was claimed after that) and
        # the sweep that first saw the next attempt.
        seen = {}  # (task id, attempts) -> [owner, previous sweep's start, first seen]

        def monitor():
            prev = time.time()
            while not done.is_set():
                start = time.time()
                try:
                    rows = self.sql("SELECT id, attempts, lease_owner FROM tasks WHERE "
                                    "status = 'running' AND channel = 'local'")
                except AssertionError:
                    rows = []
                now = time.time()
                for tid, att, owner in rows:
                    seen.setdefault((tid, int(att)), [owner, prev, now])
                prev = start
                time.sleep(0.1)

        t0 = time.time()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        kt = threading.Thread(target=killer)
        mt = threading.Thread(target=monitor)
        for t in threads + [kt, mt]:
            t.start()
        for t in threads:
            t.join()
        submitted_s = time.time() - t0
        kt.join()
        # Every task, whoever accepted it, must end; progress is watched so a stuck cluster
        # fails within the lease plus a margin instead of a fixed long deadline.
        last_change, last_final = time.time(), -1
        while True:
            rows = self.sql("SELECT status, count(*) FROM tasks WHERE key_id = ? GROUP BY status",
                            (kid,))
            by = {s: int(n) for s, n in rows}
            n_final = sum(by.get(s, 0) for s in FINAL)
            if n_final == sum(by.values()):
                break
            if n_final != last_final:
                last_final, last_change = n_final, time.time()
            if time.time() - last_change > LEASE_S + 30:
                break
            time.sleep(0.3)
        all_final_s = time.time() - t0
        done.set()
        mt.join()

        # -- figures ------------------------------------------------------------------------
        rows = self.sql("SELECT id, status, model, attempts, created_at, completed_at, "
                        "cost_micro, hold_micro, lease_owner, error_code FROM tasks "
                        "WHERE key_id = ?", (kid,))
        tasks = {r[0]: {"status": r[1], "model": r[2], "attempts": int(r[3]),
                        "created": int(r[4]), "completed": int(r[5]), "cost": int(r[6]),
                        "hold": int(r[7]), "owner": r[8], "error": r[9]} for r in rows}
        kills = sum(1 for e in events if e[1] == "kill")
        ttf = sorted(t["completed"] - t["created"] for t in tasks.values()
                     if t["status"] == "completed")
        owners = {}
        for (tid, att), (owner, _, _) in seen.items():
            owners.setdefault(tid, set()).add(owner)
        moved = sum(1 for o in owners.values() if len(o) > 1)
        extra_attempts = sum(t["attempts"] - 1 for t in tasks.values()
                             if t["model"] == MINI and t["attempts"] > 1)
        log("%d submitted in %.1f s (%d accepted, %d retried on another node, %d replays, "
            "%d unknown outcome); all final after %.1f s" %
            (N_TASKS, submitted_s, len(accepted), retried[0], len(replays), len(unknown),
             all_final_s))
        log("statuses %s" % dict((s, sum(1 for t in tasks.values() if t["status"] == s))
                                 for s in set(t["status"] for t in tasks.values())))
        log("kills %d; local renders claimed again %d time(s), %d task(s) seen rendered by more "
            "than one node name; long outage: %d leased task(s), %d not taken over" %
            (kills, extra_attempts, moved, len(takeover["leased"]), len(takeover["stuck"])))
        slow = sorted(((t["completed"] - t["created"], tid, t["model"], t["attempts"])
                       for tid, t in tasks.items() if t["status"] == "completed"), reverse=True)
        log("slowest: " + ", ".join("%s (%s, %d attempt(s)) %d s" % (tid, m, a, d)
                                    for d, tid, m, a in slow[:3]))
        for model in (MINI, FAST):
            d = sorted(t["completed"] - t["created"] for t in tasks.values()
                       if t["status"] == "completed" and t["model"] == model)
            if d:
                log("time to final, %s: median %s s, max %s s" % (model, statistics.median(d), d[-1]))
        if ttf:
            log("time to final (completed_at - created_at, s): median %s, p95 %s, max %s" %
                (statistics.median(ttf), ttf[int(len(ttf) * 0.95) - 1 if len(ttf) > 1 else 0],
                 ttf[-1]))

        # -- assertions ---------------------------------------------------------------------
        self.assertEqual(problems, [])
        self.assertGreaterEqual(kills, N_KILLS)
        for i, first, again, replayed in replays:
            self.assertEqual((again, replayed), (first, "true"), "task %d" % i)
        lost = [tid for tid in accepted.values() if tid not in tasks]
        self.assertEqual(lost, [], "2xx tasks missing from the database")
        not_final = {tid: (t["status"], t["owner"]) for tid, t in tasks.items()
                     if t["status"] not in FINAL}
        self.assertEqual(not_final, {}, "tasks not final %.0f s after the last change" %
                         (LEASE_S + 30))
        self.assertEqual({tid: (t["status"], t["error"]) for tid, t in tasks.items()
                          if t["status"] != "completed"}, {})
        self.assertEqual(takeover["stuck"], [], "leases of the node down longer than the "
                         "lease were not taken over")

        # Upstream: each Ark task created once.
        ark = {tid for tid, t in tasks.items() if t["model"] == FAST}
        creates = [c for c in self.sim.stats(detail=True)["creates"] if c["status"] == 200]
        token_task = dict(self.sql(
            "SELECT a.client_token, a.task_id FROM upstream_attempts a JOIN tasks t ON "
            "t.id = a.task_id WHERE t.key_id = ?", (kid,)))
        per_task = {}
        for c in creates:
            self.assertIn(c["token"], token_task, "an upstream create no attempt logged")
            per_task[token_task[c["token"]]] = per_task.get(token_task[c["token"]], 0) + 1
        self.assertEqual({t: n for t, n in per_task.items() if n != 1}, {},
                         "Ark tasks created more than once")
        self.assertEqual(set(per_task), ark)
        self.assertEqual(self.sim.stats()["tasks"], len(ark))

        # Locally: never two live renders of one task; one completion per task.
        violations = []
        alive_kills = [(t, name) for t, kind, name in events if kind == "kill"]
        by_task = {}
        for (tid, att), (owner, after, first) in seen.items():
            by_task.setdefault(tid, []).append((att, owner, after, first))
        for tid, obs in by_task.items():
            obs.sort()
            for (a1, o1, after1, _), (a2, o2, _, first2) in zip(obs, obs[1:]):
                # Attempt a1's owner must have been killed between its claim and a2's.
                if not any(after1 <= t <= first2 and name == o1 for t, name in alive_kills):
                    violations.append((tid, a1, o1, a2, o2))
        self.assertEqual(violations, [], "a task claimed again while its owner was alive")
        logs = "".join(n.srv.log_text() for n in self.nodes)
        for tid, t in tasks.items():
            line = "task %s completed" % tid
            self.assertLessEqual(logs.count(line + ":") + logs.count(line + " upstream:"), 1,
                                 "task %s completed more than once" % tid)
        self.assertNotIn("cannot record completion", logs)

        # Money.
        r = subprocess.run([VIDGATED, "check", "--database", self.database],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 difference(s)", r.stdout)
        led = {}
        for tid, kind, amount in self.sql(
                "SELECT task_id, kind, amount_micro FROM ledger WHERE key_id = ? AND task_id IS "
                "NOT NULL", (kid,)):
            led.setdefault(tid, {}).setdefault(kind, []).append(int(amount))
        captures = sum(sum(k.get("capture", [])) for k in led.values())
        costs = sum(t["cost"] for t in tasks.values() if t["status"] == "completed")
        self.assertEqual(captures, costs)
        for tid, t in tasks.items():
            kinds = led.get(tid, {})
            self.assertEqual(kinds.get("hold"), [t["hold"]], tid)
            self.assertEqual(kinds.get("release"), [t["hold"]], tid)
            if t["status"] != "completed":
                self.assertNotIn("capture", kinds, tid)
        st, _, me = self.nodes[1].srv.api("GET", "/v1/me", key=key)
        self.assertEqual((st, me["held"]), (200, "0.000000"))

        # Every result from every node, byte-identical.
        done_ids = sorted(tid for tid, t in tasks.items() if t["status"] == "completed")

        def fetch(arg):
            tid, n = arg
            node = self.nodes[n]
            st, _, t = node.srv.api("GET", "/v1/video/generations/" + tid, key=key)
            if st != 200:
                return tid, n, "GET %s" % st
            url = t["output"]["video_url"]
            if not url.startswith(node.srv.base_url):
                return tid, n, "not this node's URL: " + url
            r = node.srv.request("GET", url, timeout=60)
            return tid, n, sha256(r.body) if r.status == 200 else "download %s" % r.status

        t1 = time.time()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(fetch, [(tid, n) for tid in done_ids for n in range(3)]))
        digests = {}
        for tid, n, d in got:
            digests.setdefault(tid, []).append(d)
        bad = {tid: d for tid, d in digests.items() if len(set(d)) != 1 or len(d[0]) != 64}
        log("%d result(s) downloaded from each of the 3 nodes in %.1f s" %
            (len(done_ids), time.time() - t1))
        first_bad = sorted(bad)[0] if bad else ""
        context = []
        for n, d in enumerate(bad.get(first_bad, [])):
            if d == bad[first_bad][0] and n > 0:
                continue
            lines = self.nodes[n].srv.log_text().splitlines()
            context += ["%s: %s" % (self.nodes[n].name, l) for l in lines if first_bad in l]
            context += ["%s: %s" % (self.nodes[n].name, l) for l in lines
                        if " WARN " in l or " ERROR " in l][-10:]
        if bad:  # where the bytes differ: each node's cache file, the bucket's object
            sizes = []
            for n in self.nodes:
                try:
                    sizes.append(os.path.getsize(os.path.join(n.srv.data, "files", first_bad,
                                                              "video.mp4")))
                except OSError:
                    sizes.append(None)
            context.insert(0, "cache file sizes a, b, c: %s; bucket HEAD: %s" % (
                sizes, self.s3.head("cluster/%s/video.mp4" % first_bad)))
        self.assertEqual(len(bad), 0, "%d task(s) not served alike by every node, e.g. %s; "
                         "log lines of %s:\n%s" % (len(bad), sorted(bad.items())[:3], first_bad,
                                                    "\n".join(context)[-5000:]))

    # -- revocation --------------------------------------------------------------------------
    def test_revoked_key_refused_by_the_others_within_1s(self):
        delays = []
        for n in range(3):
            kid, key = self.new_key("revoke-%d" % n, "1.00")
            others = [self.nodes[(n + 1) % 3], self.nodes[(n + 2) % 3]]
            for o in others:  # every node has the key in its cache
                self.assertEqual(self.call(o, "GET", "/v1/me", key=key)[0], 200)
            r = self.call(self.nodes[n], "DELETE", "/admin/keys/" + kid,
                          key=self.nodes[n].srv.admin_key)
            t_revoked = time.time()
            self.assertEqual(r[0], 200, r)
            for o in others:
                last_ok, refused = None, None
                while time.time() - t_revoked < 3:
                    t = time.time()
                    st = self.call(o, "GET", "/v1/me", key=key, timeout=5)[0]
                    if st == 401:
                        refused = t
                        break
                    self.assertEqual(st, 200)
                    last_ok = t
                    time.sleep(0.01)
                self.assertIsNotNone(refused, "node %s still accepts a revoked key" % o.name)
                delays.append((self.nodes[n].name, o.name, refused - t_revoked,
                               (last_ok - t_revoked) if last_ok else 0.0))
        log("revocation: " + ", ".join("%s->%s refused after %.3f s (last accepted at %.3f s)" %
                                       d for d in delays))
        # A request made 1 s or more after the revocation returned is refused.
        self.assertEqual([d for d in delays if d[3] >= 1.0], [])


if __name__ == "__main__":
    unittest.main()
