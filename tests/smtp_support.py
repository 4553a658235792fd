"""Shared by the SMTP tests: a real glomaild on loopback (the protocol and
SMTP on free ports, a fresh data directory), accounts, a raw SMTP client
that sends exactly the bytes it is given, and the JSON protocol's list and
read, so every test can check what a glomail user sees."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

DOMAIN = "glo2000.ca"
PASSWORD = "Interop0Passw"


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)
    print("ok: " + what, flush=True)


class Server:
    """glomaild with --listen 127.0.0.1:0 --smtp-listen 127.0.0.1:0."""

    def __init__(self, binary, extra=(), tag="smtp"):
        self.binary = binary
        self.extra = list(extra)
        self.work = tempfile.mkdtemp(prefix="glomail-%s." % tag)
        self.data = os.path.join(self.work, "data")
        self.logpath = os.path.join(self.work, "server.log")
        self.proc = None
        self.start()

    def start(self):
        log = open(self.logpath, "a")
        mark = os.path.getsize(self.logpath)
        self.proc = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:0", "--smtp-listen",
             "127.0.0.1:0", "--data-dir", self.data] + self.extra,
            stderr=log)
        log.close()
        for _ in range(2000):
            with open(self.logpath) as f:
                f.seek(mark)
                text = f.read()
            if " started listen=" in text:
                self.port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)",
                                          text).group(1))
                self.smtp_port = int(re.search(
                    r"listening for smtp on 127\.0\.0\.1:(\d+)", text).group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        print(open(self.logpath).read())
        raise RuntimeError("glomaild did not start")

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)

    def stop(self):
        """SIGTERM; a sanitizer's report in the log (a build with
        GLOMAIL_SANITIZE) fails the test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        log = self.log()
        if not os.environ.get("GLOMAIL_KEEP_TEST_DIR"):
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print("kept " + self.work)
        if "Sanitizer" in log or "runtime error:" in log:
            print(log[-4000:])
            check(False, "no sanitizer report in the server's log")

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def maildir(self, user):
        return os.path.join(self.data, user)

    def new(self, user):
        d = os.path.join(self.data, user, "new")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.data, user, sub)
            for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
        return out


# --- the JSON protocol: 4-byte big-endian length, then JSON ---------------

def _send(sock, obj):
    data = json.dumps(obj).encode("utf-8")
    sock.sendall(struct.pack("!I", len(data)) + data)


def _exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed")
        buf += chunk
    return buf


def request(sock, header, payload=None):
    msg = {"header": header}
    if payload is not None:
        msg["payload"] = payload
    _send(sock, msg)
    (length,) = struct.unpack("!I", _exact(sock, 4))
    return json.loads(_exact(sock, length).decode("utf-8"))


def json_session(srv, user, register=False):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
    reply = request(sock, 4 if register else 5,
                    {"username": user, "password": PASSWORD})
    if reply != {"header": 1}:
        raise RuntimeError("%s %s: %r" % ("register" if register else "login",
                                          user, reply))
    return sock


def register(srv, *users):
    for u in users:
        sock = json_session(srv, u, register=True)
        _send(sock, {"header": 3})
        sock.close()


def inbox(srv, user):
    """The JSON list, then every message read: [(line, reply payload)]."""
    sock = json_session(srv, user)
    listing = request(sock, 7)
    if listing.get("header") != 1:
        raise RuntimeError("list: %r" % listing)
    out = []
    for i, line in enumerate(listing["payload"]["email_list"]):
        reply = request(sock, 8, {"choice": i + 1})
        out.append((line, reply))
    _send(sock, {"header": 3})
    sock.close()
    return out


# --- raw SMTP ------------------------------------------------------------

class Raw:
    """An SMTP client that writes exactly what it is told to."""

    def __init__(self, srv, port=None, timeout=30, tls=None):
        """tls: an ssl.SSLContext for implicit TLS (the handshake comes
        before the greeting)."""
        self.sock = socket.create_connection(
            ("127.0.0.1", port or srv.smtp_port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.banner = self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [text of each line])."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self, wait=5):
        """True once the server closed (after what it had to say)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def accounts_on_disk(srv, names):
    """Accounts made straight in the store (a pass file that no login will
    match): enough for RCPT, which only asks whether the account exists."""
    for n in names:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(srv.data, n, sub), exist_ok=True)
        with open(os.path.join(srv.data, n, "pass"), "w") as f:
            f.write("$argon2id$v=19$m=65536,t=2,p=1$x$y\n")
