#!/usr/bin/env python3
"""Acknowledged SMTP mail survives a crash. Clients deliver by SMTP as fast
as they can, several recipients a message, while glomaild is killed with
SIGKILL at random moments (inside DATA, during the commit, between
transactions) and restarted on the same store. In the end: every message
acknowledged with 250 is in every recipient's new/ once and whole; every
file there is a whole message some client sent (never a partial file);
no message is in only some of its recipients' boxes unless it was not
acknowledged; tmp/ is empty.

usage: test_smtp_crash.py PATH_TO_GLOMAILD
"""
import os
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import Server, accounts_on_disk, check

CLIENTS = 4
KILLS = 6
USERS = ["ann", "ben", "cat"]


def content(cid, n):
    """Message n of client cid: its size and bytes depend on both."""
    size = 100 + (cid * 7919 + n * 104729) % 200000
    line = ("%d.%d " % (cid, n)) * 10 + "\r\n"
    body = (line * (size // len(line) + 1))[:size]
    # Lines end with CRLF; the last one too.
    body = body[:body.rfind("\r\n") + 2] if "\r\n" in body else body + "\r\n"
    return ("Subject: id %d.%d\r\n\r\n" % (cid, n) + body).encode()


state = {}          # (cid, n) -> "attempted" | "acked"
lock = threading.Lock()
stop = False


def client(srv, cid):
    n = 0
    while not stop:
        n += 1
        msg = content(cid, n)
        try:
            sock = socket.create_connection(("127.0.0.1", srv.smtp_port),
                                            timeout=10)
            f = sock.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if not line:
                        raise ConnectionError
                    if line[3:4] != b"-":
                        return int(line[:3])
            if reply() != 220:
                raise ConnectionError
            sock.sendall(b"EHLO crash.test\r\nMAIL FROM:<c@glo2000.ca>\r\n" +
                         b"".join(b"RCPT TO:<%s@glo2000.ca>\r\n" % u.encode()
                                  for u in USERS) + b"DATA\r\n")
            codes = [reply() for _ in range(2 + len(USERS) + 1)]
            if codes[-1] != 354:
                raise ConnectionError
            with lock:
                state[(cid, n)] = "attempted"
            # In pieces, so that kills land inside DATA as well.
            data = msg + b".\r\n"
            for i in range(0, len(data), 65536):
                sock.sendall(data[i:i + 65536])
            if reply() == 250:
                with lock:
                    state[(cid, n)] = "acked"
            sock.close()
        except (OSError, ConnectionError, ValueError):
            time.sleep(0.02)


def main():
    srv = Server(sys.argv[1], ["--smtp-max-size", "1M"], tag="smtpcrash")
    try:
        accounts_on_disk(srv, USERS)
        threads = [threading.Thread(target=client, args=(srv, c))
                   for c in range(CLIENTS)]
        for t in threads:
            t.start()
        rnd = random.Random(1)
        for k in range(KILLS):
            time.sleep(0.3 + rnd.random() * 0.7)
            srv.kill()
            srv.start()
        time.sleep(0.5)
        global stop
        stop = True
        for t in threads:
            t.join()
        srv.kill()
        srv.start()  # the last start cleans tmp/
        acked = [k for k, v in state.items() if v == "acked"]
        check(len(acked) > 20, "%d messages acknowledged across %d kills"
              % (len(acked), KILLS))
        have = {u: {} for u in USERS}
        bad = 0
        for u in USERS:
            for sub in ("new", "cur"):
                d = os.path.join(srv.data, u, sub)
                for name in os.listdir(d):
                    raw = open(os.path.join(d, name), "rb").read()
                    m = re.search(rb"Subject: id (\d+)\.(\d+)\n\n", raw)
                    if m is None:
                        bad += 1
                        continue
                    key = (int(m.group(1)), int(m.group(2)))
                    want = content(*key).replace(b"\r\n", b"\n")
                    if not raw.endswith(want.split(b"\n\n", 1)[1]) or \
                            key not in state:
                        bad += 1
                    have[u][key] = have[u].get(key, 0) + 1
        check(bad == 0, "every stored file is a whole message a client sent")
        check(all(have[u].get(k) == 1 for u in USERS for k in acked),
              "every acknowledged message is in every recipient's box, once")
        check(all(v == 1 for u in USERS for v in have[u].values()),
              "no message stored twice")
        check(all(os.listdir(os.path.join(srv.data, u, "tmp")) == []
                  for u in USERS), "tmp/ empty after the restart")
    finally:
        stop = True
        srv.stop()


if __name__ == "__main__":
    main()
