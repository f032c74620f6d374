"""bench/lib/ark_load.py - the load and the measurement of B8 (Ark polling), standard library only.

  ark_load.py --base URL --admin KEY --sim URL --rate R --ramp S --measure S --grace S
              --queue-ms N --run-ms N [--sweep-ms N]

Submits R tasks a second (text to video, 480p, 4 s; each from its own key, so that the simulator's
create log, whose safety_identifier starts with the key id, says when each task started upstream).
After --ramp seconds (the tasks in flight have reached R × task time) the measurement window of
--measure seconds starts; the simulator's counters are read at both ends (GET /sim/stats).
  - requests per refresh: (list + get calls) ÷ (task states those calls returned), in the window;
  - poll lag: for each task whose upstream run ended inside the window (create time + queue + run,
    from the simulator's create log), the time until vidgated showed it final, seen by sweeping
    GET /admin/tasks?status=queued|running every --sweep-ms (a task gone from both lists is
    checked with a GET). Includes the result download (a tiny video on loopback).
Prints one line of "name value" pairs.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def conn(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(c, method, path, secret=None, body=None):
    hdrs = {"Authorization": "Bearer " + secret} if secret else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    c.request(method, path, data, hdrs)
    r = c.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw else None)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    for name in ("base", "admin", "sim"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--rate", type=float, default=25)
    ap.add_argument("--ramp", type=float, default=20)
    ap.add_argument("--measure", type=float, default=30)
    ap.add_argument("--grace", type=float, default=10)
    ap.add_argument("--queue-ms", type=int, required=True)
    ap.add_argument("--run-ms", type=int, required=True)
    ap.add_argument("--sweep-ms", type=int, default=250)
    a = ap.parse_args()
    n_tasks = int(a.rate * (a.ramp + a.measure)) + 1
    c = conn(a.base)
    keys = []
    for i in range(n_tasks):
        st, j = call(c, "POST", "/admin/keys", a.admin, {"name": "ark-%d" % i, "balance": "100"})
        if st != 201:
            raise SystemExit("key: %s %s" % (st, j))
        keys.append((j["id"], j["key"]))
    lock = threading.Lock()
    submitted = {}  # task id -> (key id, secret, submit time)
    final_at = {}   # task id -> time vidgated was seen final
    stop = threading.Event()
    errors = []

    def submitter():
        sc = conn(a.base)
        t0 = time.time()
        for i, (kid, secret) in enumerate(keys):
            delay = t0 + i / a.rate - time.time()
            if delay > 0:
                time.sleep(delay)
            if stop.is_set():
                return
            st, j = call(sc, "POST", "/v1/video/generations", secret,
                         {"model": "doubao-seedance-2-0-fast", "prompt": "ark bench %d" % i,
                          "seconds": "4", "metadata": {"resolution": "480p"}})
            if st != 200:
                errors.append("submit %s" % st)
                continue
            with lock:
                submitted[j["id"]] = (kid, secret, time.time())

    def sweeper():
        wc = conn(a.base)
        while not stop.is_set():
            t_sweep = time.time()
            with lock:
                known = {t: v for t, v in submitted.items() if v[2] < t_sweep and t not in final_at}
            active = set()
            for status in ("queued", "running"):
                after = ""
                for _ in range(100):  # pages, bounded
                    st, j = call(wc, "GET", "/admin/tasks?status=%s&limit=100%s" % (status, after), a.admin)
                    if st != 200:
                        errors.append("list %s" % st)
                        break
                    active.update(t["id"] for t in j["data"])
                    if not j.get("has_more") or not j["data"]:
                        break
                    after = "&after=" + j["data"][-1]["id"]
            for tid, (kid, secret, _) in known.items():
                if tid in active:
                    continue
                st, j = call(wc, "GET", "/v1/video/generations/" + tid, secret)
                if st == 200 and j["status"] in ("completed", "failed", "cancelled"):
                    with lock:
                        final_at[tid] = t_sweep
            time.sleep(max(0, a.sweep_ms / 1000.0 - (time.time() - t_sweep)))

    sim = conn(a.sim)
    threads = [threading.Thread(target=submitter), threading.Thread(target=sweeper)]
    for t in threads:
        t.start()
    time.sleep(a.ramp)
    _, s0 = call(sim, "GET", "/sim/stats")
    w0 = time.time()
    inflight = []
    while time.time() < w0 + a.measure:
        time.sleep(1)
        _, s = call(sim, "GET", "/sim/stats")
        inflight.append(s["statuses"].get("queued", 0) + s["statuses"].get("running", 0))
    _, s1 = call(sim, "GET", "/sim/stats?detail=1")
    w1 = time.time()
    time.sleep(a.grace)
    stop.set()
    for t in threads:
        t.join(60)

    def d(path):
        x0, x1 = s0, s1
        for k in path:
            x0, x1 = x0[k], x1[k]
        return x1 - x0

    lists = d(("operations", "list", "requests"))
    gets = d(("operations", "get", "requests"))
    batch_calls = d(("batch_polls", "calls"))
    batch_items = d(("batch_polls", "tasks"))
    refreshes = batch_items + gets
    by_key = {v[0]: t for t, v in submitted.items()}
    span = (a.queue_ms + a.run_ms) / 1000.0
    lags, missing = [], 0
    for cr in s1.get("creates", []):
        kid = cr["token"].split(".")[0]
        tid = by_key.get(kid)
        end = cr["t_ms"] / 1000.0 + span
        if tid is None or not (w0 <= end <= w1):
            continue
        if tid in final_at:
            lags.append(max(0.0, final_at[tid] - end))
        else:
            missing += 1
    out = {
        "submitted": len(submitted), "errors": len(errors),
        "inflight_min": min(inflight) if inflight else 0,
        "inflight_avg": sum(inflight) / len(inflight) if inflight else 0,
        "window_s": round(w1 - w0, 1), "list_calls": lists, "batch_calls": batch_calls,
        "lookups": lists - batch_calls, "get_calls": gets, "refreshes": refreshes,
        "creates": d(("operations", "create", "requests")),
        "req_per_refresh": (lists + gets) / refreshes if refreshes else float("nan"),
        "ids_per_list": batch_items / batch_calls if batch_calls else float("nan"),
        "lag_n": len(lags), "lag_missing": missing,
        "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags) if lags else float("nan"),
    }
    print(" ".join("%s %s" % (k, ("%.4f" % v) if isinstance(v, float) else v) for k, v in out.items()),
          flush=True)


if __name__ == "__main__":
    main()
