"""bench/lib/vg.py - small client of the vidgate API for the benchmark scripts (standard library
only, loopback only, every wait bounded).

  vg.py --base URL --admin KEY key [--balance B] [--mode test] [--count N]
        prints "ID SECRET" per key created
  vg.py --base URL --admin KEY submit SECRET JSON_BODY|@FILE [--count N]  prints the task ids
  vg.py --base URL --admin KEY wait SECRET TASK [--timeout S] prints the final status (exit 1 on timeout)
  vg.py --base URL --admin KEY get SECRET TASK              prints the task object
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse

FINAL = ("completed", "failed", "cancelled")


class Client:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def call(self, method, path, secret, body=None):
        for attempt in range(2):  # one reconnect if the keep-alive connection was closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                hdrs = {"Authorization": "Bearer " + secret}
                data = None
                if body is not None:
                    data = json.dumps(body).encode()
                    hdrs["Content-Type"] = "application/json"
                self.conn.request(method, path, data, hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--admin", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("key")
    k.add_argument("--balance", default="100")
    k.add_argument("--mode", default="live")
    k.add_argument("--count", type=int, default=1)
    s = sub.add_parser("submit")
    s.add_argument("secret")
    s.add_argument("body")
    s.add_argument("--count", type=int, default=1)
    w = sub.add_parser("wait")
    w.add_argument("secret")
    w.add_argument("task")
    w.add_argument("--timeout", type=float, default=120)
    g = sub.add_parser("get")
    g.add_argument("secret")
    g.add_argument("task")
    a = ap.parse_args()
    c = Client(a.base)
    if a.cmd == "key":
        for i in range(a.count):
            st, j = c.call("POST", "/admin/keys", a.admin,
                           {"name": "bench-%d" % i, "balance": a.balance, "mode": a.mode})
            if st != 201:
                sys.exit("key: %s %s" % (st, j))
            print(j["id"], j["key"])
    elif a.cmd == "submit":
        body = open(a.body[1:]).read() if a.body.startswith("@") else a.body
        for _ in range(a.count):
            st, j = c.call("POST", "/v1/video/generations", a.secret, json.loads(body))
            if st != 200:
                sys.exit("submit: %s %s" % (st, j))
            print(j["id"])
    elif a.cmd == "wait":
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            st, j = c.call("GET", "/v1/video/generations/" + a.task, a.secret)
            if st == 200 and j["status"] in FINAL:
                print(j["status"])
                return
            time.sleep(0.2)
        sys.exit("wait: %s not final after %.0f s" % (a.task, a.timeout))
    elif a.cmd == "get":
        st, j = c.call("GET", "/v1/video/generations/" + a.task, a.secret)
        if st != 200:
            sys.exit("get: %s %s" % (st, j))
        json.dump(j, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
