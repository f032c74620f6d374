"""Black-box harness: starts the real build/vidgated on a free loopback port with a temporary data
directory, talks to it over HTTP, and fails a test when the server log shows a sanitizer report or
an unexpected ERROR line. Python 3 standard library only.

    srv = Server()                      # started and ready
    key_id, key = srv.new_key("alice", "100.00")
    status, headers, body = srv.api("POST", "/v1/video/generations", {...}, key=key)
    task = srv.wait_task(body["id"], key)
    srv.kill9(); srv.start()            # crash and restart on the same data
    srv.stop()                          # raises if the log shows a problem

Store: SQLite in the data directory, or, with VG_TEST_STORE=postgresql and VG_TEST_PG_URL (a
throwaway server, scripts/pg-test-cluster), a fresh PostgreSQL database per data directory,
passed with --database (its URL is kept in DATA/pg-database, so a second Server on the same data
directory, and store_args(), find it; vidgated gets it at every start(), whatever a test puts in
srv.args). srv.sql() and srv.sql_dicts() reach either directly.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("VG_BUILD", os.path.join(ROOT, "build")))
VIDGATED = os.path.join(BUILD, "vidgated")
VIDGATE = os.path.join(BUILD, "vidgate")
PROBE = os.path.join(BUILD, "tests", "vg-probe")

PG_URL = os.environ.get("VG_TEST_PG_URL", "")
USE_PG = os.environ.get("VG_TEST_STORE", "") == "postgresql" and bool(PG_URL)
PG_MARKER = "pg-database"

BAD_LOG_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def wait_for(pred, timeout=30, what="condition", step=0.05):
    """pred() until it returns something true (returned), at most timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(path, *args):
    """Runs the vg-probe tool (libavformat) and returns its JSON answer."""
    cmd = [PROBE, args[0] if args else "info", path] + list(args[1:])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def _psql(url, script, variables=()):
    """Runs an SQL script with psql (its :'pN' variables bound); returns rows of text fields."""
    cmd = ["psql", url, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    for i, v in enumerate(variables, 1):
        cmd += ["-v", "p%d=%s" % (i, v)]
    r = subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql: %s" % r.stderr)
    return [tuple(line.split("\t")) for line in r.stdout.splitlines() if line]


def _pg_url_for(dbname):
    parts = urllib.parse.urlsplit(PG_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def _write_marker(data_dir, url):
    """DATA/pg-database, owner-only like everything vidgated keeps there (test_hardening checks
    the modes of the whole directory)."""
    fd = os.open(os.path.join(data_dir, PG_MARKER), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(url)


def store_args(data_dir):
    """The vidgated flags that open the store of data_dir (none for SQLite)."""
    try:
        with open(os.path.join(data_dir, PG_MARKER)) as f:
            return ["--database", f.read().strip()]
    except OSError:
        return []


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


class Server:
    def __init__(self, env=None, args=None, data_dir=None, start=True, database=None):
        self.port = free_port()
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.data = data_dir or tempfile.mkdtemp(prefix="vg-bb-")
        self.owns_data = data_dir is None
        self.admin_key = "sk-admin-" + secrets.token_hex(16)
        self.env = dict(os.environ)
        self.env.update({
            "VIDGATE_ADMIN_KEY": self.admin_key,
            "VIDGATE_RENDER_WORKERS": "2",
            "VIDGATE_THREADS": "2",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23:max_free_fill_size=65536",
            "LSAN_OPTIONS": "print_suppressions=0:suppressions=" + os.path.join(ROOT, "tests", "lsan.supp"),
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        self.env.update(env or {})
        self.pg_database = None
        if database:  # another node's database (PostgreSQL URL), shared, not dropped here
            _write_marker(self.data, database)
        elif USE_PG and not store_args(self.data):
            self.pg_database = "vgbb_" + secrets.token_hex(6)
            _psql(PG_URL, "CREATE DATABASE %s;" % self.pg_database)
            _write_marker(self.data, _pg_url_for(self.pg_database))
        self.args = list(args or [])  # the store's flags are added at start(): see there
        self.allowed_errors = []  # substrings of ERROR lines a test expects
        self.proc = None
        self.logs = []
        if start:
            self.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout=20):
        log_path = os.path.join(self.data, "server-%d.log" % len(self.logs))
        self.logs.append(log_path)
        self.log_file = open(log_path, "wb")
        # store_args() here, not in self.args: a test may replace self.args (a --config of its
        # own) and still runs on the backend the suite was started with.
        cmd = ([VIDGATED, "--listen", "127.0.0.1:%d" % self.port, "--data", self.data] +
               store_args(self.data) + self.args)
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("vidgated exited at start:\n" + self.log_text())
            try:
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise AssertionError("vidgated did not become ready:\n" + self.log_text())

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()

    def stop(self, check=True):
        """SIGTERM, wait, then check the logs. Returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vidgated did not stop on SIGTERM")
            self.log_file.close()
        code = self.proc.returncode if self.proc else 0
        if check:
            self.check_log()
            if code not in (0, -signal.SIGKILL):
                raise AssertionError("vidgated exited with %s:\n%s" % (code, self.log_text()))
        return code

    def close(self):
        try:
            self.stop()
        finally:
            if self.pg_database:
                _psql(PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % self.pg_database)
            if self.owns_data:
                shutil.rmtree(self.data, ignore_errors=True)

    def sql(self, query, params=()):
        """Runs one statement on the server's database directly ("?" placeholders); the rows,
        each a tuple (of text on PostgreSQL)."""
        args = store_args(self.data)
        if args:
            n = iter(range(1, len(params) + 1))
            script = "".join(":'p%d'" % next(n) if c == "?" else c for c in query) + ";"
            return _psql(args[1], script, [str(p) for p in params])
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data, "vidgate.db"))
        try:
            rows = db.execute(query, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def sql_dicts(self, query, params=()):
        """Like sql() for one SELECT, each row a dict of column name to value, with the same
        Python types on both backends (int, str, None: PostgreSQL's rows go through JSON)."""
        if store_args(self.data):
            return [json.loads(r[0]) for r in
                    self.sql("SELECT row_to_json(q) FROM (%s) q" % query, params)]
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data, "vidgate.db"), timeout=30)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(query, params).fetchall()]
        finally:
            db.close()

    def log_text(self):
        out = []
        for p in self.logs:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def check_log(self):
        text = self.log_text()
        for marker in BAD_LOG_MARKERS:
            if marker in text:
                raise AssertionError("sanitizer report in the server log:\n" + text[-6000:])
        for line in text.splitlines():
            if " ERROR " in line and not any(a in line for a in self.allowed_errors):
                raise AssertionError("unexpected error in the server log: " + line)

    # -- HTTP ------------------------------------------------------------------------------
    def request(self, method, path, body=None, key=None, headers=None, raw_body=None, timeout=30):
        hdrs = dict(headers or {})
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if key:
            hdrs["Authorization"] = "Bearer " + key
        url = path if path.startswith("http") else self.base_url + path
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read())

    def api(self, method, path, body=None, key=None, headers=None, raw_body=None, timeout=30):
        """Returns (status, headers, parsed JSON or raw bytes)."""
        r = self.request(method, path, body, key, headers, raw_body, timeout)
        parsed = r.body
        if r.headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(r.body.decode())
        return r.status, r.headers, parsed

    def new_key(self, name="user", balance="100.00", **extra):
        body = {"name": name, "balance": balance}
        body.update(extra)
        status, _, j = self.api("POST", "/admin/keys", body, key=self.admin_key)
        if status != 201:
            raise AssertionError("key creation failed: %s %s" % (status, j))
        return j["id"], j["key"]

    def submit(self, key, **fields):
        body = {"model": "doubao-seedance-2-0-fast", "prompt": "a test scene", "seconds": "4",
                "metadata": {"resolution": "480p", "ratio": "16:9"}}
        body.update(fields)
        return self.api("POST", "/v1/video/generations", body, key=key)

    def wait_task(self, task_id, key, timeout=120, until=("completed", "failed", "cancelled")):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, _, t = self.api("GET", "/v1/video/generations/" + task_id, key=key)
            if status != 200:
                raise AssertionError("GET task: %s %s" % (status, t))
            if t["status"] in until:
                return t
            time.sleep(0.1)
        raise AssertionError("task %s not final after %ss" % (task_id, timeout))

    def download(self, url, path, key=None):
        r = self.request("GET", url, key=key, timeout=60)
        if r.status != 200:
            raise AssertionError("download %s: %s %s" % (url, r.status, r.body[:300]))
        with open(path, "wb") as f:
            f.write(r.body)
        return r
