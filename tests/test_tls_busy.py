#!/usr/bin/env python3
"""A busy peer never locks TLS clients out. The reactor runs TLS handshakes
after everything else; two logged-in plaintext clients pipelining stats
requests as fast as they can keep it busy at every loop turn. New TLS
clients must still complete their handshake and a request promptly (the
server moves handshakes that got no turn for 20 ms back among everyone
else), and so must new plaintext clients (accepting resumes after a burst).

usage: test_tls_busy.py PATH_TO_GLOMAILD   (GLOMAIL_TLS_CERTS: the test certs)
"""
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import Server, check, json_session, register, request

# Each attempt must be served this fast; starved, it would wait for the
# whole pipelining (and then the login timeout).
LIMIT_S = 5.0


def frame(obj):
    data = json.dumps(obj).encode("utf-8")
    return struct.pack("!I", len(data)) + data


def busy(srv, stop, counts, i):
    """Pipeline stats requests; a second thread drains the replies."""
    sock = json_session(srv, "bob")
    sock.settimeout(30)
    blob = frame({"header": 10}) * 500

    def drain():
        try:
            while not stop.is_set():
                got = sock.recv(1 << 16)
                if not got:
                    return
                counts[i] += len(got)
        except OSError:
            pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        while not stop.is_set():
            sock.sendall(blob)
    except OSError:
        pass
    finally:
        stop.wait()
        sock.close()


def tls_request(port, ctx):
    t0 = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", port), timeout=LIMIT_S * 2)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    reply = request(s, 11)
    s.close()
    return reply, time.monotonic() - t0


def plain_request(port):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=LIMIT_S * 2)
    reply = request(s, 11)
    s.close()
    return reply, time.monotonic() - t0


def main():
    certs = os.environ.get("GLOMAIL_TLS_CERTS")
    if not certs or not os.path.exists(os.path.join(certs, "server.crt")):
        print("GLOMAIL_TLS_CERTS does not hold the test certificates")
        sys.exit(1)
    srv = Server(sys.argv[1], [
        "--tls-listen", "127.0.0.1:0",
        "--tls-cert", os.path.join(certs, "server.crt"),
        "--tls-key", os.path.join(certs, "server.key")], tag="tlsbusy")
    stop = threading.Event()
    threads = []
    try:
        tls_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+) tls",
                                 srv.log()).group(1))
        register(srv, "bob")
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
        counts = [0, 0]
        for i in range(2):
            t = threading.Thread(target=busy, args=(srv, stop, counts, i),
                                 daemon=True)
            t.start()
            threads.append(t)
        time.sleep(1)
        check(sum(counts) > 0, "the busy clients are being answered")
        worst_tls = worst_plain = 0.0
        for _ in range(10):
            reply, secs = tls_request(tls_port, ctx)
            check(reply.get("header") == 1,
                  "a TLS client is served while others keep the server busy")
            worst_tls = max(worst_tls, secs)
            reply, secs = plain_request(srv.port)
            check(reply.get("header") == 1,
                  "a plaintext newcomer is served while others keep it busy")
            worst_plain = max(worst_plain, secs)
        # More newcomers at once than one accepting burst (32).
        t0 = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=LIMIT_S * 2)
                 for _ in range(80)]
        for s in socks:
            s.sendall(frame({"header": 11}))
        served = 0
        for s in socks:
            try:
                (length,) = struct.unpack("!I", s.recv(4, socket.MSG_WAITALL))
                s.recv(length, socket.MSG_WAITALL)
                served += 1
            except (OSError, struct.error):
                pass
            s.close()
        burst = time.monotonic() - t0
        print("80 newcomers at once served in %.3f s" % burst)
        check(served == 80 and burst < LIMIT_S,
              "80 newcomers at once are all accepted and served")
        before = sum(counts)
        time.sleep(0.5)
        check(sum(counts) > before, "the busy clients were served throughout")
        print("slowest TLS connection %.3f s, plaintext %.3f s"
              % (worst_tls, worst_plain))
        check(worst_tls < LIMIT_S, "every TLS connection served within %.0f s"
              % LIMIT_S)
        check(worst_plain < LIMIT_S,
              "every plaintext connection served within %.0f s" % LIMIT_S)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        srv.stop()


if __name__ == "__main__":
    main()
