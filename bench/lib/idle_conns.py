"""bench/lib/idle_conns.py - holds many idle keep-alive connections to a server (B4).

  idle_conns.py PORT COUNT PATH [HEADER…]

Opens COUNT connections to 127.0.0.1:PORT (raising its own open-file limit), sends one GET PATH on
each, reads each reply in full, then leaves them idle. Prints "ready OPEN FAILED" when every
connection is either idle after its reply or failed (a reply other than 200, e.g. a connection
limit's refusal, counts as failed and its connection is closed), then waits for a line on stdin; on it, prints
"still-open N" (connections the server has not closed meanwhile) and exits. Bounded: 120 s for the
set-up, non-blocking sockets, one thread.
"""
import resource
import selectors
import socket
import sys
import time


def main():
    port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    headers = "".join(h + "\r\n" for h in sys.argv[4:])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, headers)).encode()
    sel = selectors.DefaultSelector()
    state = {}
    failed = 0
    deadline = time.time() + 120
    opened = 0
    done = 0
    while (opened < count or len(state) > done) and time.time() < deadline:
        # Keep at most 500 connections in progress at once (the listen backlog is finite).
        while opened < count and len(state) - done < 500:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            state[s] = {"buf": b"", "sent": False, "done": False}
            sel.register(s, selectors.EVENT_WRITE)
            opened += 1
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            st = state[s]
            if not st["sent"]:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    sel.unregister(s)
                    s.close()
                    del state[s]
                    failed += 1
                    continue
                s.send(req)
                st["sent"] = True
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                del state[s]
                failed += 1
                continue
            st["buf"] += data
            head, sep, body = st["buf"].partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                if len(body) >= length:
                    sel.unregister(s)
                    if not head.startswith(b"HTTP/1.1 200"):  # refused (a limit): not held
                        s.close()
                        del state[s]
                        failed += 1
                        continue
                    st["done"] = True
                    st["buf"] = b""
                    done += 1
    print("ready %d %d" % (done, failed + (count - opened)), flush=True)
    sys.stdin.readline()
    still = 0
    for s in list(state):
        try:
            s.setblocking(False)
            still += 1 if s.recv(1, socket.MSG_PEEK) else 0
        except BlockingIOError:
            still += 1  # nothing to read and not closed: still open
        except OSError:
            pass
    print("still-open %d" % still, flush=True)


if __name__ == "__main__":
    main()
