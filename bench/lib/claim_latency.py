"""bench/lib/claim_latency.py - the claim path's latency, from outside: N tasks one after another,
each submitted, then followed with ?wait long-polls until a render worker has claimed it (status
no longer queued), then until it is final. Prints "p50 p95 max" of submit-reply-to-claimed in ms.
The long-poll answers when the claim commits, so the figure is the claim path (the pool woken by
the submit, the claim statement, its commit, the change reaching the loop) plus one wake.

  claim_latency.py BASE SECRET N BODY_JSON
"""
import http.client
import json
import sys
import time
import urllib.parse

FINAL = ("completed", "failed", "cancelled")


def main():
    base, secret, n, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    hdr = {"Authorization": "Bearer " + secret, "Content-Type": "application/json"}

    def call(method, path, data=None, extra=None):
        conn.request(method, path, body=data, headers=dict(hdr, **(extra or {})))
        r = conn.getresponse()
        return r.status, r.getheader("ETag"), json.loads(r.read() or b"{}")

    lat = []
    for _ in range(n):
        st, _, t = call("POST", "/v1/video/generations", body)
        if st != 200:
            sys.exit("submit answered %d: %s" % (st, t))
        t0 = time.perf_counter()
        path = "/v1/video/generations/" + t["id"]
        status, etag = t["status"], None
        while status == "queued":
            st, etag, t = call("GET", path + "?wait=10", extra={"If-None-Match": etag} if etag else None)
            status = t.get("status", "queued") if st == 200 else "queued"
        lat.append((time.perf_counter() - t0) * 1000)
        deadline = time.time() + 120
        while status not in FINAL and time.time() < deadline:
            st, etag, t = call("GET", path + "?wait=30", extra={"If-None-Match": etag})
            status = t.get("status", status) if st == 200 else status
        if status not in FINAL:
            sys.exit("task %s not final in 120 s" % t["id"])
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))]
    print("%.1f %.1f %.1f" % (pick(50), pick(95), lat[-1]))


if __name__ == "__main__":
    main()
