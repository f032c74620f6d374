"""Network hardening (issue 10, items 3, 4, 5, 11 part, 12): descriptor exhaustion, connection slots
held before authentication, bodies read before authentication, the HTTP library's own replies, and
two servers on one port. Loopback only, bounded sizes, small limits (RLIMIT_NOFILE 256 for the
server, a few hundred connections). Source addresses 127.0.0.2.. stand for other clients: Linux
routes all of 127/8 to the loopback interface.

Each test prints the figure it measures (the report compares them before and after the fix)."""
import json
import os
import re
import resource
import select
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server

# The client side needs a descriptor per connection too.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < min(_hard, 4096):
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 4096), _hard))


def figure(name, value):
    print("\n  FIGURE %s: %s" % (name, value), flush=True)


class LimitedServer(Server):
    """A Server whose process starts with the given RLIMIT_NOFILE (soft, hard)."""

    def __init__(self, nofile, **kw):
        self.nofile = nofile
        super().__init__(**kw)

    def start(self, timeout=20):
        orig = harness.subprocess.Popen
        nofile = self.nofile

        def popen(*a, **k):
            k["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
            return orig(*a, **k)

        harness.subprocess.Popen = popen
        try:
            super().start(timeout)
        finally:
            harness.subprocess.Popen = orig


def connect(port, source="127.0.0.1", timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def read_response(sock, timeout=5):
    """Reads one HTTP/1.1 response (Content-Length or until close). (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/1."):
        raise AssertionError("no HTTP response: %r" % data[:200])
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def raw(port, data, timeout=5, source="127.0.0.1"):
    s = connect(port, source, timeout)
    try:
        s.sendall(data)
        return read_response(s, timeout)
    finally:
        s.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deleted_file_bytes(pid):
    """Bytes in files the process holds open that are already unlinked (h2o's body spill files)."""
    total = 0
    fd_dir = "/proc/%d/fd" % pid
    for name in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, name)).endswith("(deleted)"):
                total += os.stat(os.path.join(fd_dir, name)).st_size
        except OSError:
            pass
    return total


def healthz_time(port, source="127.0.0.1", limit=15.0):
    """Seconds until a new client gets GET /healthz answered, or None within limit."""
    start = time.time()
    while time.time() - start < limit:
        try:
            st, _, _ = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                           timeout=max(0.5, limit - (time.time() - start)), source=source)
            if st == 200:
                return time.time() - start
        except (OSError, AssertionError):
            time.sleep(0.05)
    return None


class Flood:
    """Keeps n connections open from several source addresses, saying nothing (or a partial
    request head), reopening those the server closes."""

    def __init__(self, port, n, sources, payload=b""):
        self.port, self.n, self.sources, self.payload = port, n, sources, payload
        self.socks = []
        self.stop = False
        for i in range(n):
            self.socks.append(self._open(i))
        self.thread = threading.Thread(target=self._keep, daemon=True)
        self.thread.start()

    def _open(self, i):
        s = socket.socket()
        s.setblocking(False)
        s.bind((self.sources[i % len(self.sources)], 0))
        s.connect_ex(("127.0.0.1", self.port))
        if self.payload:
            try:
                select.select([], [s], [], 1)
                s.send(self.payload)
            except OSError:
                pass
        return s

    def _keep(self):
        while not self.stop:
            r, _, _ = select.select(self.socks, [], [], 0.1)
            for s in r:
                try:
                    gone = not s.recv(4096)
                except OSError:
                    gone = True
                if gone and not self.stop:
                    i = self.socks.index(s)
                    s.close()
                    self.socks[i] = self._open(i)

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


OTHERS = ["127.0.0.%d" % i for i in range(2, 12)]


class DescriptorTest(unittest.TestCase):
    """Item 3: 300 idle connections against a server limited to 256 descriptors."""

    def setUp(self):
        self.srv = LimitedServer((200, 256), env={"VIDGATE_HEADER_TIMEOUT_MS": "1000"})
        self.key = self.srv.new_key("fd", "100.00")[1]

    def tearDown(self):
        self.srv.close()

    def test_idle_flood_under_ulimit(self):
        flood = Flood(self.srv.port, 300, OTHERS)
        try:
            time.sleep(1.0)
            pid = self.srv.proc.pid
            c0, t0 = cpu_seconds(pid), time.time()
            time.sleep(2.0)
            cpu = (cpu_seconds(pid) - c0) / (time.time() - t0)
            figure("server CPU while 300 idle connections are held (cores)", "%.2f" % cpu)
            served = healthz_time(self.srv.port, limit=15)
            figure("new client served after (s)", served)
            self.assertIsNotNone(served, "a new client was never served")
            self.assertLess(served, 10)
            self.assertLess(cpu, 0.5, "the event loops spin")
            st, _, task = self.srv.submit(self.key, prompt="rendered during a flood")
            self.assertEqual(st, 200, task)
            t = self.srv.wait_task(task["id"], self.key, timeout=180)
            figure("render during the flood", t["status"] + " " + json.dumps(t.get("error")))
            self.assertEqual(t["status"], "completed", t)
        finally:
            flood.close()
        log = self.srv.log_text()
        self.assertRegex(log, r"file descriptors: limit 256 \(raised")
        self.assertNotIn("Too many open files", log)
        self.assertLessEqual(len(re.findall(r"max_connections\)|cannot accept connections", log)), 2)


class SlotTest(unittest.TestCase):
    """Item 4: connections holding a partial request head; keep-alive idle."""

    def test_partial_heads_from_one_address(self):
        srv = Server(env={"VIDGATE_MAX_CONNECTIONS": "100", "VIDGATE_MAX_CONNECTIONS_PER_IP": "16",
                          "VIDGATE_HEADER_TIMEOUT_MS": "3000"})
        try:
            flood = Flood(srv.port, 150, ["127.0.0.2"], payload=b"POST /v1/videos HTTP/1.1\r\nHost: x\r\n")
            try:
                time.sleep(0.5)
                served = healthz_time(srv.port, limit=2)
                figure("new client served while 150 partial heads are held (s)", served)
                self.assertIsNotNone(served, "locked out by partial requests")
                st, _, body = raw(srv.port, b"", source="127.0.0.2")
                self.assertEqual(st, 429)
                self.assertEqual(json.loads(body)["error"]["code"], "too_many_connections")
            finally:
                flood.close()
        finally:
            srv.close()

    def test_header_timeout(self):
        srv = Server(env={"VIDGATE_HEADER_TIMEOUT_MS": "1000"})
        try:
            s = connect(srv.port, timeout=8)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            start = time.time()
            try:
                st, _, body = read_response(s, timeout=8)
            except socket.timeout:
                st = None
            held = time.time() - start
            figure("partial request head held for (s)", "%.1f" % held)
            self.assertEqual(st, 408)
            self.assertEqual(json.loads(body)["error"]["code"], "request_timeout")
            self.assertLess(held, 3)
            s.close()
        finally:
            srv.close()

    def test_keepalive_idle_and_anonymous_close(self):
        srv = Server(env={"VIDGATE_IDLE_TIMEOUT_MS": "1500"})
        try:
            s = connect(srv.port, timeout=8)
            s.sendall(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                      % srv.admin_key.encode())
            st, hdrs, _ = read_response(s)
            self.assertEqual(st, 200)
            self.assertEqual(hdrs.get("connection", "").lower(), "keep-alive")
            start = time.time()
            s.settimeout(8)
            self.assertEqual(s.recv(10), b"")
            idle = time.time() - start
            figure("keyed keep-alive connection idle for (s)", "%.1f" % idle)
            self.assertLess(idle, 4)
            s.close()
            st, hdrs, _ = raw(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual((st, hdrs.get("connection", "").lower()), (200, "close"))
        finally:
            srv.close()


def multipart_head(length, key=None, path="/v1/videos", chunked=False):
    h = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n" % path
    if key:
        h += "Authorization: Bearer %s\r\n" % key
    h += "Transfer-Encoding: chunked\r\n" if chunked else "Content-Length: %d\r\n" % length
    return (h + "\r\n").encode()


def error_of(test, resp, status, code):
    st, hdrs, body = resp
    test.assertEqual(st, status, body[:300])
    test.assertTrue(hdrs.get("content-type", "").startswith("application/json"), hdrs)
    err = json.loads(body)["error"]
    test.assertEqual(err["code"], code, err)
    test.assertEqual(set(err), {"message", "type", "code", "param"})
    return err


class BodyTest(unittest.TestCase):
    """Item 5: bodies are judged by the head before they are read."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key = cls.srv.new_key("bodies", "10.00")[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def send_head(self, head, extra=b"x" * 65536, timeout=3):
        s = connect(self.srv.port, timeout=timeout)
        try:
            s.sendall(head + extra)
            return read_response(s, timeout)
        finally:
            s.close()

    def test_refused_by_head(self):
        big = 40 << 20
        start = time.time()
        error_of(self, self.send_head(multipart_head(big)), 401, "invalid_api_key")
        error_of(self, self.send_head(multipart_head(big, key="sk-wrong")), 401, "invalid_api_key")
        error_of(self, self.send_head(multipart_head(0, chunked=True)), 401, "invalid_api_key")
        error_of(self, self.send_head(multipart_head(big + 1, key=self.key)), 413, "request_too_large")
        error_of(self, self.send_head(multipart_head(2 << 20, key=self.key, path="/v1/video/generations")),
                 413, "request_too_large")
        error_of(self, self.send_head(multipart_head(2 << 20, path="/healthz")), 413, "request_too_large")
        figure("six refusals by head, each sending 64 KiB of a declared body (s)", "%.2f" % (time.time() - start))

    def test_keyed_large_body_still_accepted(self):
        body = b"--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n" + b"p" * (2 << 20) + b"\r\n--b--\r\n"
        st, _, resp = self.send_head(multipart_head(len(body), key=self.key), body, timeout=10)
        self.assertNotIn(st, (401, 413), resp[:300])  # read and judged by the handler

    def test_disk_used_by_unauthenticated_bodies(self):
        n, declared, sent = 4, 40 << 20, 35 << 20  # above h2o's 32 MiB spill to a temporary file
        socks = []
        chunk = b"z" * (1 << 20)
        for _ in range(n):
            s = connect(self.srv.port, timeout=10)
            try:
                s.sendall(multipart_head(declared))
                for _ in range(sent // len(chunk)):
                    s.sendall(chunk)
            except OSError:
                pass  # refused and closed before the body was sent: what we want
            socks.append(s)
        time.sleep(0.5)
        held = deleted_file_bytes(self.srv.proc.pid)
        figure("disk held for %d unauthenticated %d MiB bodies (MiB)" % (n, sent >> 20), held >> 20)
        for s in socks:
            s.close()
        self.assertLess(held, 1 << 20)


class LibraryRepliesTest(unittest.TestCase):
    """Item 11 (part): replies the HTTP library would produce carry the JSON envelope."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def r(self, data):
        return raw(self.srv.port, data)

    def test_nul_byte(self):
        error_of(self, self.r(b"GET /healthz HTTP/1.1\r\nHost: a\x00b\r\n\r\n"), 400, "invalid_request")

    def test_too_many_headers(self):
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
        error_of(self, self.r(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n"), 431, "request_too_large")

    def test_head_too_large(self):
        error_of(self, self.r(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"),
                 431, "request_too_large")

    def test_bad_request_line(self):
        error_of(self, self.r(b"THIS IS NOT HTTP\r\n\r\n"), 400, "invalid_request")

    def test_bad_content_length(self):
        error_of(self, self.r(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n"),
                 400, "invalid_request")

    def test_chunked_body_over_cap(self):
        # Anonymous, chunked, to a JSON-sized route: h2o counts and refuses it itself (413).
        s = connect(self.srv.port, timeout=10)
        try:
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"%x\r\n%s\r\n" % (1 << 16, b"c" * (1 << 16))
            try:
                for _ in range(40):
                    s.sendall(piece)
            except OSError:
                pass
            error_of(self, read_response(s, 10), 413, "request_too_large")
        finally:
            s.close()

    def test_broken_chunked_encoding(self):
        error_of(self, self.r(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                 400, "invalid_request")

    def test_unknown_expectation(self):
        error_of(self, self.r(b"POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\n"),
                 417, "expectation_failed")


class PortTest(unittest.TestCase):
    """Item 12: a second server on a port in use exits non-zero and says why."""

    def test_second_server_on_same_port(self):
        srv = Server()
        data = tempfile.mkdtemp(prefix="vg-bb-")
        try:
            start = time.time()
            try:
                p = subprocess.run([harness.VIDGATED, "--listen", "127.0.0.1:%d" % srv.port, "--data", data],
                                   env=srv.env, capture_output=True, text=True, timeout=10)
                code, out = p.returncode, p.stdout + p.stderr
            except subprocess.TimeoutExpired as e:
                code, out = None, str(e.stdout or b"")
            figure("second server on a port in use", "exit %s after %.1f s" % (code, time.time() - start))
            self.assertIsNotNone(code, "the second server kept running")
            self.assertNotEqual(code, 0)
            self.assertIn("address already in use", out)
            self.assertFalse(os.path.exists(os.path.join(data, "vidgate.db")), os.listdir(data))
            self.assertEqual(srv.api("GET", "/healthz")[0], 200)
        finally:
            srv.close()
            subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    unittest.main()
