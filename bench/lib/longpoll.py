"""bench/lib/longpoll.py - parks many long-poll clients on queued tasks, then wakes them (B7).

  longpoll.py PORT KEY COUNT WAIT_S TASK…

Opens COUNT connections to 127.0.0.1:PORT (raising its own open-file limit) and sends on each
GET /v1/video/generations/{task}?wait=WAIT_S (tasks round-robin). Replies that come back before
any task changed are counted as "early". Prints "parked N EARLY" once every request is sent and
1 s has passed, then waits for a line on stdin; then cancels the tasks one after another (DELETE
on its own connection) and prints "woken N", the wake latencies' p50/p99/max in ms (reply time
minus the time the DELETE of its task was sent) and how many waiters were not answered within
20 s. Non-blocking sockets, one thread, every wait bounded.
"""
import http.client
import resource
import selectors
import socket
import sys
import time


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    port, key, count, wait_s = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    tasks = sys.argv[5:]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    conns = {}
    early = 0
    t_end = time.time() + 120
    i = 0

    def on_read(s, st, now):
        nonlocal early
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            st["buf"] += data
            if b"\r\n\r\n" not in st["buf"]:
                return
        sel.unregister(s)
        st["t"] = now
        if st["woken_by"] is None:
            early += 1

    while i < count and time.time() < t_end:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            time.sleep(0.01)
            continue
        task = tasks[i % len(tasks)]
        s.sendall(("GET /v1/video/generations/%s?wait=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % (task, wait_s, key)).encode())
        s.setblocking(False)
        conns[s] = {"task": task, "buf": b"", "t": None, "woken_by": None}
        sel.register(s, selectors.EVENT_READ)
        i += 1
        for k, _ in sel.select(timeout=0):
            on_read(k.fileobj, conns[k.fileobj], time.time())
    settle = time.time() + 1
    while time.time() < settle:
        for k, _ in sel.select(timeout=0.1):
            on_read(k.fileobj, conns[k.fileobj], time.time())
    print("parked %d %d" % (len(conns), early), flush=True)
    sys.stdin.readline()
    by_task = {}
    for s, st in conns.items():
        by_task.setdefault(st["task"], []).append(st)
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent_at = {}
    for task in tasks:
        sent_at[task] = time.time()
        for st in by_task.get(task, []):
            st["woken_by"] = task
        api.request("DELETE", "/v1/video/generations/" + task, headers={"Authorization": "Bearer " + key})
        api.getresponse().read()
        for k, _ in sel.select(timeout=0):
            on_read(k.fileobj, conns[k.fileobj], time.time())
    deadline = time.time() + 20
    while time.time() < deadline and sel.get_map():
        for k, _ in sel.select(timeout=0.1):
            on_read(k.fileobj, conns[k.fileobj], time.time())
    lat = [(st["t"] - sent_at[st["task"]]) * 1000 for st in conns.values()
           if st["t"] is not None and st["woken_by"] is not None]
    print("woken %d p50 %.1f p99 %.1f max %.1f unanswered %d" % (
        len(lat), pct(lat, 50), pct(lat, 99), max(lat) if lat else float("nan"), len(sel.get_map())),
        flush=True)


if __name__ == "__main__":
    main()
