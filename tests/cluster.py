#!/usr/bin/env python3
"""Several glomaild on one store, HAProxy in front of them and Dovecot
serving the same Maildirs over IMAP: every process is a private one started
here on free loopback ports, with its configuration in a scratch directory,
and stopped at the end. No system service is used.

usage: cluster.py SCENARIO --glomaild BIN --glomaild-faults BIN --client BIN
                  --checkpassword BIN
                  --seed-replay BIN --source DIR --dovecot-conf FILE

SCENARIO:
  checkpassword  glomail-checkpassword on its own, as Dovecot runs it
  instances  two instances, clients alternating at random: registration
             races, flows with several recipients, seed sessions, the
             client's commands, an account's pass file replaced, per-instance
             throttling, unique names under concurrent deliveries
  crash      SIGKILL of one instance during deliveries: nothing acknowledged
             is lost, nothing is duplicated
  names      two instances in their own UTS and PID namespaces, with the same
             pid and different host names, deliver into one mailbox
  haproxy    the shipped dist/haproxy/glomail.cfg in front of two instances:
             seed sessions and the client through it, a backend killed
  dovecot    the shipped dist/dovecot/99-glomail.conf(.in): imaplib logs in with
             glomail passwords; seen, flagged, expunged across both sides
  race       glomail deliveries and IMAP expunges on one mailbox at once

Exit status 0: passed; 77: skipped (a tool is missing); else failed.
"""
import argparse
import email.header
import imaplib
import os
import pwd
import grp
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json

SKIP = 77
PASSWORD = "Cluster0Passw"
DOMAIN = "glo2000.ca"
LINE_RE = re.compile(r"^#(\d+) (\S+) - (.*) \w{3}, \d{2} \w{3} \d{4} "
                     r"\d{2}:\d{2}:\d{2} [+-]\d{4}$")

ARGS = None
PROCS = []      # everything started here, stopped at exit
WORK = None


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        raise SystemExit(1)
    print("ok: " + what, flush=True)


def skip(why):
    print("SKIPPED: " + why, flush=True)
    raise SystemExit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=20.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


# --- the glomail protocol, as the original clients speak it ----------------

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed")
        buf += chunk
    return buf


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def req(self, header, payload=None):
        msg = {"header": header}
        if payload is not None:
            msg["payload"] = payload
        data = json.dumps(msg).encode("utf-8")
        self.sock.sendall(struct.pack("!I", len(data)) + data)
        (length,) = struct.unpack("!I", recv_exact(self.sock, 4))
        return json.loads(recv_exact(self.sock, length).decode("utf-8"))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def register(port, user, password=PASSWORD):
    c = Conn(port)
    r = c.req(4, {"username": user, "password": password})
    c.close()
    return r["header"]


def login(port, user, password=PASSWORD):
    c = Conn(port)
    r = c.req(5, {"username": user, "password": password})
    if r["header"] != 1:
        c.close()
        return None
    return c


def send(c, sender, rcpt, subject, content):
    return c.req(9, {"sender": "%s@%s" % (sender, DOMAIN),
                     "destination": "%s@%s" % (rcpt, DOMAIN),
                     "subject": subject, "content": content})["header"]


def listing(c):
    """The list as (number, sender, subject), newest first."""
    r = c.req(7)
    assert r["header"] == 1, r
    out = []
    for line in r["payload"]["email_list"]:
        m = LINE_RE.match(line)
        assert m, line
        out.append((int(m.group(1)), m.group(2), m.group(3)))
    return out


def stats(c):
    r = c.req(10)
    assert r["header"] == 1, r
    return r["payload"]["count"]


def read(c, n):
    r = c.req(8, {"choice": n})
    return r.get("payload") if r["header"] == 1 else None


# --- processes ---------------------------------------------------------------

def store_owner():
    """Who runs glomaild and owns the store: as root, an unprivileged user
    (nobody), as it would be in production; else the user running this."""
    if os.getuid() == 0:
        pw = pwd.getpwnam("nobody")
        return pw.pw_name, pw.pw_uid, pw.pw_gid
    pw = pwd.getpwuid(os.getuid())
    return pw.pw_name, pw.pw_uid, pw.pw_gid


def as_owner(argv):
    name, uid, gid = store_owner()
    if os.getuid() != 0:
        return argv
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
            "--clear-groups"] + argv


class Glomaild:
    def __init__(self, tag, data, extra=(), prefix=None, owner=False,
                 binary=None, env=None):
        self.binary = binary or ARGS.glomaild
        self.env = env
        self.tag = tag
        self.data = data
        self.extra = list(extra)
        self.prefix = prefix or []
        self.owner = owner
        self.log = os.path.join(WORK, "glomaild-%s.log" % tag)
        # Each instance has its own control socket, never in the store.
        self.control = os.path.join(WORK, "run-%s" % tag, "control")
        self.proc = None
        self.port = None

    def start(self):
        argv = self.prefix + [self.binary, "--listen", "127.0.0.1:0",
                              "--smtp-listen", "off", "--data-dir", self.data,
                              "--login-penalty", "0"]
        argv += self.extra
        if ARGS.ctl:
            run = os.path.dirname(self.control)
            os.makedirs(run, 0o700, exist_ok=True)
            if self.owner:
                _, uid, gid = store_owner()
                os.chown(run, uid, gid)
            argv += ["--control-socket", self.control]
        if self.owner:
            argv = as_owner(argv)
        start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        logf = open(self.log, "ab")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(argv, stderr=logf, stdout=logf, env=env)
        logf.close()
        PROCS.append(self.proc)

        def bound():
            with open(self.log, "rb") as f:
                f.seek(start)
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                return -1
            return None
        port = wait_for(bound)
        if port is None or port < 0:
            print(open(self.log, errors="replace").read())
            check(False, "glomaild %s started" % self.tag)
        self.port = port
        return self

    def kill(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def log_text(self):
        return open(self.log, errors="replace").read()


def new_store(tag, owner=False):
    data = os.path.join(WORK, "data-" + tag)
    os.mkdir(data, 0o700)
    if owner:
        # The store's owner must reach it, as Dovecot's helper must.
        _, uid, gid = store_owner()
        os.chown(data, uid, gid)
        os.chmod(WORK, 0o755)
    return data


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
    for p in PROCS:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def message_files(data, user):
    names = []
    for sub in ("new", "cur"):
        d = os.path.join(data, user, sub)
        names += [n for n in os.listdir(d) if not n.startswith(".")]
    return names


def run_seed_replay(ports):
    env = dict(os.environ, GLOMAIL_TEST_PORTS=",".join(map(str, ports)))
    r = subprocess.run([ARGS.seed_replay], env=env, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r.returncode == 0


def client(port, user, *cmd, stdin=""):
    env = dict(os.environ, GLOMAIL_PASSWORD=PASSWORD, LANG="C", LC_ALL="C")
    return subprocess.run([ARGS.client, "-d", "127.0.0.1", "-p", str(port),
                           "-u", user] + list(cmd), input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


# --- scenario: two instances, clients alternating at random ------------------

def registration_race(a, b, rounds=12):
    """One name registered on both instances at the same moment: exactly
    one succeeds, and its password is the account's on both."""
    for i in range(rounds):
        name = "race%d" % i
        bar = threading.Barrier(2)
        res = {}

        def go(inst, pw):
            c = Conn(inst.port)
            bar.wait()
            res[inst.tag] = c.req(4, {"username": name, "password": pw})["header"]
            c.close()
        pws = {a.tag: "Racer0PasswA", b.tag: "Racer0PasswB"}
        ts = [threading.Thread(target=go, args=(x, pws[x.tag])) for x in (a, b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if sorted(res.values()) != [1, 2]:
            check(False, "%s: exactly one registration succeeds, got %r" %
                  (name, res))
        winner = [k for k, v in res.items() if v == 1][0]
        loser = [k for k in res if k != winner][0]
        for inst in (a, b):
            c = login(inst.port, name, pws[winner])
            if c is None or login(inst.port, name, pws[loser]) is not None:
                check(False, "%s: the winner's password works on %s" %
                      (name, inst.tag))
            c.close()
    check(True, "%d names registered on two instances at once: exactly one "
          "succeeded each time, its password valid on both" % rounds)


def registration_race_plain_rename():
    """Where the file system refuses rename's RENAME_NOREPLACE (NFS,
    CephFS: EINVAL, injected here), registration falls back to a plain
    rename, and of two at once exactly one still succeeds."""
    data = new_store("noreplace")
    faults = os.path.join(WORK, "faults")
    open(faults, "w").write("noreplace\n")
    env = {"GLOMAIL_FAULTS": faults}
    a = Glomaild("fa", data, binary=ARGS.glomaild_faults, env=env).start()
    b = Glomaild("fb", data, binary=ARGS.glomaild_faults, env=env).start()
    registration_race(a, b, rounds=8)
    check(all(os.path.exists(os.path.join(data, "race%d" % i, "pass"))
              for i in range(8)) and
          not [n for n in os.listdir(data) if n.startswith(".new-")],
          "every account whole, no staging left")
    a.kill()
    b.kill()


def ctl(inst, *words, stdin=None):
    """glomailctl on inst's own control socket."""
    return subprocess.run([ARGS.ctl, "--control-socket", inst.control] +
                          list(words), input=stdin, capture_output=True,
                          text=True, timeout=60)


def admin_across(a, b):
    """A password change and a lock made through one instance's control
    socket hold at the next login on the other."""
    check(register(a.port, "adm", "Before0Passw") == 1, "account for glomailctl")
    r = ctl(a, "user", "passwd", "adm", "--password-stdin",
            stdin="After00Passw\n")
    check(r.returncode == 0, "glomailctl user passwd through a's socket"
          + ("" if r.returncode == 0 else ": " + r.stderr))
    check(login(b.port, "adm", "Before0Passw") is None and
          login(b.port, "adm", "After00Passw") is not None,
          "b honours the new password at the next login")
    r = ctl(b, "user", "lock", "adm")
    check(r.returncode == 0, "glomailctl user lock through b's socket")
    check(login(a.port, "adm", "After00Passw") is None,
          "a refuses the locked account at the next login")
    r = ctl(a, "user", "unlock", "adm")
    check(r.returncode == 0 and
          login(b.port, "adm", "After00Passw") is not None,
          "unlocked through a, b lets it in again")


def leftovers(a, b):
    """What a crash left: an instance that joins others removes only what
    is older than any work in flight (36 hours); one that starts alone
    removes it all."""
    check(register(a.port, "left") == 1, "account for the leftovers")
    b.kill()
    old = time.time() - 37 * 3600
    tmp = os.path.join(a.data, "left", "tmp")
    for name, when in (("1.M1P1Q1.old", old), ("2.M2P2Q2.fresh", None)):
        path = os.path.join(tmp, name)
        open(path, "w").write("half a message")
        if when:
            os.utime(path, (when, when))
    for name, when in ((".new-00old", old), (".new-0fresh", None)):
        path = os.path.join(a.data, name)
        for sub in ("", "tmp", "new", "cur"):
            os.mkdir(os.path.join(path, sub))
        if when:
            os.utime(path, (when, when))
    b.start()
    check(sorted(os.listdir(tmp)) == ["2.M2P2Q2.fresh"],
          "an instance joining others removes only old files from tmp/")
    staging = sorted(n for n in os.listdir(a.data) if n.startswith(".new-"))
    check(staging == [".new-0fresh"],
          "and only old half-made accounts (%r)" % staging)
    a.kill()
    b.kill()
    a.start()
    check(os.listdir(tmp) == [] and
          not [n for n in os.listdir(a.data) if n.startswith(".new-")],
          "an instance starting alone removes them all")
    b.start()


def random_flows(a, b, rnd, steps=70):
    insts = [a, b]
    users = ["ann", "bo", "cy", "di"]
    for u in users:
        check(register(rnd.choice(insts).port, u) == 1, "register %s" % u)
    # Sessions that stay logged in on each instance: what another process
    # delivered must show at their next request.
    sessions = {(u, i.tag): login(i.port, u) for u in users for i in insts}
    expected = {u: [] for u in users}
    n = 0
    for step in range(steps):
        op = rnd.random()
        if op < 0.5:
            sender = rnd.choice(users)
            rcpts = rnd.sample(users, rnd.randint(1, 3))
            fresh = rnd.random() < 0.5
            inst = rnd.choice(insts)
            c = login(inst.port, sender) if fresh else sessions[(sender, inst.tag)]
            for r in rcpts:
                n += 1
                subject = "m%d \u00e9t\u00e9 %s" % (n, sender)
                content = "body %d\nfor %s\n" % (n, r)
                if send(c, sender, r, subject, content) != 1:
                    check(False, "send %d via %s" % (n, inst.tag))
                expected[r].append((sender + "@" + DOMAIN, subject, content))
            if fresh:
                c.close()
        else:
            u = rnd.choice(users)
            inst = rnd.choice(insts)
            fresh = rnd.random() < 0.3
            c = login(inst.port, u) if fresh else sessions[(u, inst.tag)]
            want = expected[u]
            got = listing(c)
            if stats(c) != len(want) or len(got) != len(want):
                check(False, "step %d: %s on %s (%s session) counts %d, "
                      "wants %d" % (step, u, inst.tag,
                                    "fresh" if fresh else "held",
                                    len(got), len(want)))
            if sorted((s, subj) for _, s, subj in got) != \
                    sorted((s, subj) for s, subj, _ in want):
                check(False, "step %d: %s's list on %s" % (step, u, inst.tag))
            if got:
                num, s, subj = rnd.choice(got)
                e = read(c, num)
                body = [w[2] for w in want if w[1] == subj][0]
                if e is None or e["subject"] != subj or e["content"] != body:
                    check(False, "step %d: read %d on %s" % (step, num,
                                                             inst.tag))
            if fresh:
                c.close()
    for c in sessions.values():
        c.close()
    check(True, "%d random steps, %d messages to several recipients, every "
          "list, count and read consistent on both instances, fresh and "
          "held sessions" % (steps, n))
    return expected


def mb_list(c):
    """The structured list (mailbox extension) as {id: entry}."""
    r = c.req(20)
    assert r["header"] == 1, r
    return {m["id"]: m for m in r["payload"]["messages"]}


def extensions_across(a, b):
    """Several recipients, delete, flags and password change through one
    instance, seen at the next request by sessions held on the other."""
    for u, inst in (("xa", a), ("xb", b), ("xc", a)):
        check(register(inst.port, u) == 1, "register %s for the extensions"
              % u)
    held = {(u, i.tag): login(i.port, u) for u in ("xa", "xb", "xc")
            for i in (a, b)}
    caps = held[("xa", "a")].req(11)["payload"]["extensions"]
    check(all(e in caps for e in ("send-many", "mailbox", "password")),
          "both instances offer send-many, mailbox and password")
    r = held[("xa", "a")].req(12, {
        "to": ["xb@" + DOMAIN, "XC@" + DOMAIN], "cc": ["xb@" + DOMAIN],
        "subject": "to several \u00e9", "content": "one write\n"})
    got = [(e["address"].lower(), e["result"])
           for e in r["payload"]["recipients"]] if r["header"] == 1 else r
    check(got == [("xb@" + DOMAIN, "delivered"),
                  ("xc@" + DOMAIN, "delivered")],
          "send-many through a: one copy per distinct recipient (%s)" % got)
    lb = mb_list(held[("xb", "b")])
    lc = mb_list(held[("xc", "b")])
    check(len(lb) == 1 and len(lc) == 1 and
          all(not m["seen"] and not m["flagged"] and
              m["subject"] == "to several \u00e9"
              for m in list(lb.values()) + list(lc.values())),
          "b's held sessions list the message a delivered, unread")
    mid, cid = next(iter(lb)), next(iter(lc))
    r = held[("xb", "a")].req(23, {"ids": [mid], "add": ["flagged"]})
    check(r["header"] == 1, "flag set through a: %s" % r)
    m = mb_list(held[("xb", "b")])[mid]
    check(m["flagged"] and not m["seen"], "b sees a's flag at once")
    r = held[("xb", "b")].req(21, {"id": mid})
    check(r["header"] == 1 and r["payload"]["content"] == "one write\n",
          "read by id through b")
    m = mb_list(held[("xb", "a")])[mid]
    check(m["seen"] and m["flagged"], "a sees b's read mark at once")
    r = held[("xc", "a")].req(22, {"ids": [cid]})
    check(r["header"] == 1 and r["payload"]["deleted"] == 1,
          "delete through a")
    check(mb_list(held[("xc", "b")]) == {} and stats(held[("xc", "b")]) == 0,
          "b's held session sees the deletion: empty list, count 0")
    r = held[("xc", "b")].req(22, {"ids": [cid]})
    check(r["header"] == 2 and
          r["payload"]["error_message"] == "no such message",
          "deleting again through b: no such message")
    check(mid in mb_list(held[("xb", "b")]),
          "the other recipient's copy is untouched by the delete")
    new_pw = "Nouveau-mot-2-passe"
    r = held[("xa", "b")].req(25, {"password": PASSWORD,
                                    "new_password": new_pw})
    check(r["header"] == 1, "password change through b: %s" % r)
    old = login(a.port, "xa")
    new = login(a.port, "xa", new_pw)
    check(old is None and new is not None,
          "a honours b's password change at the next login")
    check(stats(held[("xa", "a")]) == 0,
          "a session held on a before the change still works")
    for c in list(held.values()) + [new]:
        if c is not None:
            c.close()


def pass_file_replaced(a, b):
    """No password is cached: a pass file replaced on disk (what a password
    change writes) holds at the next login on every instance."""
    check(register(a.port, "pwuser", "Before0Passw") == 1 and
          register(b.port, "pwother", "After00Passw") == 1,
          "two accounts for the pass-file test")
    for inst in (a, b):
        check(login(inst.port, "pwuser", "Before0Passw") is not None,
              "old password works on %s" % inst.tag)
    src = os.path.join(a.data, "pwother", "pass")
    dst = os.path.join(a.data, "pwuser", "pass")
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o600)
    os.rename(tmp, dst)
    for inst in (b, a):
        check(login(inst.port, "pwuser", "Before0Passw") is None and
              login(inst.port, "pwuser", "After00Passw") is not None,
              "replaced pass file honoured at the next login on %s" %
              inst.tag)


def throttle_per_instance(data):
    """Login throttling is per instance, by design: a failure on one
    delays the next login there, not on another instance."""
    pen = ["--login-penalty", "3000", "--login-penalty-max", "3000"]
    c = Glomaild("c", data, pen).start()
    d = Glomaild("d", data, pen).start()
    check(register(c.port, "slow") == 1, "account for the throttle test")
    check(login(c.port, "slow", "Wrong00Passw") is None, "a failed login on c")
    t_fail = time.monotonic()
    x = login(d.port, "slow")
    t_d = time.monotonic() - t_fail
    y = login(c.port, "slow")
    t_c = time.monotonic() - t_fail
    check(x is not None and y is not None, "both logins succeed")
    # The penalty counts from the failure.
    check(t_c >= 2.8, "the next login on c waits out the penalty (%.2f s "
          "after the failure)" % t_c)
    check(t_d < 2.0, "the next login on d does not (%.2f s)" % t_d)
    x.close()
    y.close()
    c.kill()
    d.kill()


def concurrent_names(a, b, per=40):
    check(register(a.port, "burst") == 1 and register(a.port, "sender") == 1,
          "accounts for the burst")
    errs = []

    def go(inst, k):
        c = login(inst.port, "sender")
        for i in range(per):
            if send(c, "sender", "burst", "b%s-%d" % (k, i), "x") != 1:
                errs.append((k, i))
        c.close()
    ts = [threading.Thread(target=go, args=(inst, inst.tag + str(j)))
          for inst in (a, b) for j in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errs, "every concurrent delivery acknowledged")
    names = message_files(a.data, "burst")
    check(len(names) == 4 * per and len(set(names)) == len(names),
          "%d deliveries from two instances at once: %d distinct files" %
          (4 * per, len(set(names))))
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    for inst in (a, b):
        pid = "P%dQ" % inst.proc.pid
        mine = [n for n in names if pid in n]
        check(len(mine) == 2 * per and all(n.split(":")[0].endswith("." + host)
                                           for n in mine),
              "instance %s's names carry its pid and the host name" % inst.tag)


def recv_frame(sock, timeout):
    """The next frame within timeout seconds, or None."""
    sock.settimeout(timeout)
    try:
        (length,) = struct.unpack("!I", recv_exact(sock, 4))
        return json.loads(recv_exact(sock, length).decode("utf-8"))
    except (socket.timeout, TimeoutError):
        return None
    finally:
        sock.settimeout(30)


def notices_across(a, b, data):
    """A subscriber on one instance hears of mail delivered by the other,
    by another program writing into new/, and of its own instance's
    deliveries: once each."""
    check(register(a.port, "nsub") == 1 and register(a.port, "nsend") == 1,
          "notices: accounts")
    sub = login(a.port, "nsub")
    check(sub.req(26)["header"] == 1, "notices: subscribed on instance a")
    other = login(b.port, "nsend")
    check(send(other, "nsend", "nsub", "across b", "hello") == 1,
          "notices: a message to the subscriber through instance b")
    n = recv_frame(sub.sock, 10)
    check(n is not None and n.get("header") == 28 and
          n["payload"]["subject"] == "across b" and
          n["payload"]["sender"] == "nsend@" + DOMAIN,
          "notices: the subscriber on a hears of b's delivery (%r)" % (n,))
    # Another program (an MDA, mutt) writes straight into new/.
    tmp = os.path.join(data, "nsub", "tmp", "1.ext.host")
    with open(tmp, "w") as f:
        f.write("From: robot@%s\nSubject: straight in\n\nbody\n" % DOMAIN)
    os.rename(tmp, os.path.join(data, "nsub", "new", "1.ext.host"))
    n = recv_frame(sub.sock, 10)
    check(n is not None and n.get("header") == 28 and
          n["payload"]["subject"] == "straight in",
          "notices: a file another program puts in new/ is announced (%r)"
          % (n,))
    mine = login(a.port, "nsend")
    check(send(mine, "nsend", "nsub", "through a", "hi") == 1,
          "notices: a message through the subscriber's own instance")
    n = recv_frame(sub.sock, 10)
    check(n is not None and n.get("header") == 28 and
          n["payload"]["subject"] == "through a",
          "notices: its own instance's delivery is announced")
    check(recv_frame(sub.sock, 0.5) is None,
          "notices: once, not again when the watch sees the file")
    r = sub.req(10)
    check(r["header"] == 1 and r["payload"]["count"] == 3,
          "notices: the next reply is the stats, 3 messages")
    check(sub.req(27)["header"] == 1, "notices: unsubscribed")
    check(send(other, "nsend", "nsub", "unheard", "x") == 1,
          "notices: one more through b")
    check(recv_frame(sub.sock, 1.0) is None,
          "notices: none after unsubscribing")
    for c in (sub, other, mine):
        c.close()


def notices_polled():
    """Where inotify cannot see a delivery (another host on NFS; here the
    fault "inotify" turns it off), a subscriber still hears of it, from the
    poll of the directories' times (every 5 s)."""
    data = new_store("nonotify")
    faults = os.path.join(WORK, "faults-inotify")
    open(faults, "w").write("inotify\n")
    env = {"GLOMAIL_FAULTS": faults}
    a = Glomaild("na", data, binary=ARGS.glomaild_faults, env=env).start()
    b = Glomaild("nb", data, binary=ARGS.glomaild_faults, env=env).start()
    check(register(a.port, "psub") == 1 and register(b.port, "psend") == 1,
          "polled notices: accounts")
    sub = login(a.port, "psub")
    check(sub.req(26)["header"] == 1, "polled notices: subscribed on a")
    other = login(b.port, "psend")
    t0 = time.time()
    check(send(other, "psend", "psub", "polled", "x") == 1,
          "polled notices: a message through b")
    n = recv_frame(sub.sock, 12)
    check(n is not None and n.get("header") == 28 and
          n["payload"]["subject"] == "polled",
          "polled notices: announced without inotify, after %.1f s (%r)"
          % (time.time() - t0, n))
    check("cannot watch" not in a.log_text() and
          "inotify" in a.log_text(), "polled notices: the log says why")
    sub.close()
    other.close()
    a.kill()
    b.kill()


def scenario_instances():
    rnd = random.Random(int(os.environ.get("CLUSTER_SEED", "17")))
    data = new_store("shared")
    a = Glomaild("a", data).start()
    b = Glomaild("b", data).start()
    check("sharing" in b.log_text(), "the second instance joins the store")
    registration_race(a, b)
    random_flows(a, b, rnd)
    order = [rnd.choice((a.port, b.port)) for _ in range(7)]
    check(run_seed_replay(order), "seed sessions replayed across both "
          "instances at random (%s)" % ",".join(
              "a" if p == a.port else "b" for p in order))
    r1 = client(a.port, "cli", "register")
    r2 = client(b.port, "cli", "send", "--to", "cli@" + DOMAIN, "--subject",
                "via b", stdin="hello from b\n")
    r3 = client(a.port, "cli", "list")
    r4 = client(b.port, "cli", "read", "1")
    r5 = client(a.port, "cli", "stats")
    check(all(r.returncode == 0 for r in (r1, r2, r3, r4, r5)) and
          "via b" in r3.stdout and "hello from b" in r4.stdout and
          "messages: 1" in r5.stdout,
          "the glomail client's commands alternate between instances")
    extensions_across(a, b)
    notices_across(a, b, data)
    notices_polled()
    pass_file_replaced(a, b)
    if ARGS.ctl:
        admin_across(a, b)
    leftovers(a, b)
    concurrent_names(a, b)
    throttle_per_instance(data)
    registration_race_plain_rename()
    check(a.kill() == 0 and b.kill() == 0, "both instances stop cleanly")


# --- scenario: SIGKILL during deliveries ------------------------------------

def scenario_crash():
    data = new_store("crash")
    a = Glomaild("a", data).start()
    b = Glomaild("b", data).start()
    check(register(a.port, "sink") == 1 and register(b.port, "src") == 1,
          "accounts")
    acked, doubt, lock = [], [], threading.Lock()
    stop = threading.Event()
    survivors = {"b": b.port}

    def sender(k, inst):
        port = inst.port
        c = None
        i = 0
        while not stop.is_set():
            subj = "k%d-%d" % (k, i)
            i += 1
            try:
                if c is None:
                    c = login(port, "src")
                    if c is None:
                        raise ConnectionError("login")
                h = send(c, "src", "sink", subj, "payload %s\n" % subj)
                with lock:
                    (acked if h == 1 else doubt).append(subj)
            except (OSError, ConnectionError, ValueError, struct.error):
                with lock:
                    doubt.append(subj)
                if c is not None:
                    c.close()
                c = None
                port = survivors["b"]   # reconnect to the instance alive
        if c is not None:
            c.close()
    ts = [threading.Thread(target=sender, args=(k, a if k % 2 else b))
          for k in range(4)]
    for t in ts:
        t.start()
    # Kill in the middle of the stream, however slow the machine is.
    wait_for(lambda: len(acked) >= 40, timeout=60)
    a.kill(signal.SIGKILL)
    killed_at = len(acked)
    wait_for(lambda: len(acked) >= killed_at + 40, timeout=60)
    stop.set()
    for t in ts:
        t.join()
    check(killed_at > 0 and len(acked) > killed_at,
          "deliveries acknowledged before (%d) and after (%d) the kill" %
          (killed_at, len(acked) - killed_at))
    c = login(b.port, "sink")
    got = [s for _, _, s in listing(c)]
    check(len(got) == len(set(got)), "no message twice")
    missing = set(acked) - set(got)
    check(not missing, "every acknowledged message is there (%d); missing %r"
          % (len(acked), sorted(missing)[:5]))
    check(set(got) <= set(acked) | set(doubt),
          "nothing that was never sent")
    check(stats(c) == len(got), "stats agrees with the list")
    c.close()
    a.start()
    c = login(a.port, "sink")
    check(len(listing(c)) == len(got), "the restarted instance sees the same")
    c.close()
    check("sharing" in a.log_text(), "it joined the running one")
    a.kill()
    b.kill()


# --- scenario: same pid, different host names --------------------------------

def scenario_names():
    if shutil.which("unshare") is None:
        skip("no unshare")
    probe = subprocess.run(["unshare", "--uts", "--pid", "--fork", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        skip("no UTS/PID namespaces here (needs root)")
    data = new_store("names")
    insts = []
    for host in ("glo-a", "glo-b"):
        prefix = ["unshare", "--uts", "--pid", "--fork", "--kill-child",
                  "sh", "-c", 'hostname "$0" && exec "$@"', host]
        insts.append(Glomaild(host, data, prefix=prefix).start())
    a, b = insts
    check(register(a.port, "same") == 1, "account")
    errs = []

    def go(inst):
        c = login(inst.port, "same")
        for i in range(40):
            if send(c, "same", "same", "%s %d" % (inst.tag, i), "x") != 1:
                errs.append(i)
        c.close()
    ts = [threading.Thread(target=go, args=(i,)) for i in insts for _ in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    names = message_files(data, "same")
    check(not errs and len(names) == 160 and len(set(names)) == 160,
          "160 deliveries from two instances with pid 1 each: 160 files")
    for host in ("glo-a", "glo-b"):
        mine = [n for n in names if n.split(":")[0].endswith("." + host)]
        check(len(mine) == 80 and all("P1Q" in n for n in mine),
              "names from %s carry its host name and pid 1" % host)
    c = login(b.port, "same")
    check(stats(c) == 160, "all 160 listed")
    c.close()
    # unshare waits out SIGTERM; its child dies with it (--kill-child).
    for inst in insts:
        inst.kill(signal.SIGKILL)


# --- scenario: HAProxy --------------------------------------------------------

def haproxy_config(port, backends, sock):
    """The shipped configuration with this test's addresses."""
    src = open(os.path.join(ARGS.source, "dist", "haproxy", "glomail.cfg")).read()
    out = []
    for line in src.splitlines():
        s = line.strip()
        if s.startswith("bind "):
            line = "    bind 127.0.0.1:%d" % port
        elif s.startswith("server "):
            continue
        out.append(line)
    text = "\n".join(out) + "\n"
    text += "".join("    server %s 127.0.0.1:%d check inter 500ms\n" % (n, p)
                    for n, p in backends)
    glob = ("global\n    maxconn 2000\n"
            "    stats socket %s mode 600 level admin\n" % sock)
    gpath = os.path.join(WORK, "haproxy-global.cfg")
    cpath = os.path.join(WORK, "haproxy-glomail.cfg")
    open(gpath, "w").write(glob)
    open(cpath, "w").write(text)
    return gpath, cpath


def haproxy_state(sock, server):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"show stat\n")
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    for line in buf.decode().splitlines():
        f = line.split(",")
        if len(f) > 17 and f[1] == server:
            return f[17]
    return None


def scenario_haproxy():
    if shutil.which("haproxy") is None:
        skip("no haproxy")
    data = new_store("haproxy")
    a = Glomaild("a", data).start()
    b = Glomaild("b", data).start()
    port = free_port()
    sock = os.path.join(WORK, "haproxy.sock")
    g, c = haproxy_config(port, [("glomail1", a.port), ("glomail2", b.port)],
                          sock)
    chk = subprocess.run(["haproxy", "-c", "-f", g, "-f", c],
                         capture_output=True, text=True)
    check(chk.returncode == 0, "haproxy -c accepts the shipped configuration"
          + ("" if chk.returncode == 0 else ": " + chk.stdout + chk.stderr))
    hlog = open(os.path.join(WORK, "haproxy.log"), "wb")
    hp = subprocess.Popen(["haproxy", "-db", "-f", g, "-f", c], stdout=hlog,
                          stderr=hlog)
    PROCS.append(hp)
    check(wait_for(lambda: haproxy_state(sock, "glomail2") == "UP"
                   if os.path.exists(sock) else None) is not None,
          "haproxy up, both backends healthy by the protocol check")
    check(run_seed_replay([port]), "seed sessions replayed through haproxy")
    conns = [len(re.findall(r"connect peer=", x.log_text())) for x in (a, b)]
    check(all(n >= 3 for n in conns), "round robin: both instances served "
          "(%d, %d connections)" % tuple(conns))
    r1 = client(port, "viaproxy", "register")
    r2 = client(port, "viaproxy", "send", "--to", "viaproxy@" + DOMAIN,
                "--subject", "through haproxy", stdin="proxied\n")
    r3 = client(port, "viaproxy", "list")
    r4 = client(port, "viaproxy", "read", "1")
    r5 = client(port, "viaproxy", "stats")
    check(all(r.returncode == 0 for r in (r1, r2, r3, r4, r5)) and
          "through haproxy" in r3.stdout and "proxied" in r4.stdout and
          "messages: 1" in r5.stdout, "the glomail client through haproxy")
    # Clients that connect, log in, send and check, over and over, while
    # one backend dies.
    check(register(port, "hp") == 1, "account for the kill test")
    results, lock, stop = [], threading.Lock(), threading.Event()
    killed = {}

    def worker(k):
        i = 0
        while not stop.is_set():
            t0 = time.monotonic()
            ok = False
            try:
                cn = login(port, "hp")
                if cn is not None:
                    ok = send(cn, "hp", "hp", "w%d-%d" % (k, i), "x") == 1 \
                        and stats(cn) > 0
                    cn.close()
            except (OSError, ConnectionError, ValueError, struct.error):
                ok = False
            with lock:
                results.append((t0, time.monotonic(), ok))
            i += 1
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    wait_for(lambda: len(results) >= 6, timeout=60)
    before_b = len(re.findall(r"connect peer=", b.log_text()))
    killed["sent"] = time.monotonic()
    b.kill(signal.SIGKILL)     # returns once it is dead
    killed["t"] = time.monotonic()
    time.sleep(3.0)
    wait_for(lambda: len([r for r in results if r[0] > killed["t"]]) >= 6,
             timeout=60)
    stop.set()
    for t in ts:
        t.join()
    after = [r for r in results if r[0] > killed["t"]]
    before = [r for r in results if r[1] < killed["sent"]]
    check(before and all(ok for _, _, ok in before),
          "before the kill every session succeeds (%d)" % len(before))
    check(len(after) >= 3 and all(ok for _, _, ok in after),
          "every client that reconnects after the kill is served (%d of %d)"
          % (sum(ok for _, _, ok in after), len(after)))
    check(before_b > 0, "the killed backend had served clients")
    check(wait_for(lambda: haproxy_state(sock, "glomail2") == "DOWN",
                   timeout=10) is not None, "haproxy marks it down")
    cn = login(a.port, "hp")
    sent = sum(ok for _, _, ok in results)
    check(cn is not None and stats(cn) >= sent,
          "the survivor holds every acknowledged message (%d)" % sent)
    cn.close()
    hp.terminate()
    hp.wait(timeout=10)


# --- scenario: Dovecot --------------------------------------------------------

def dovecot_start(data):
    if shutil.which("dovecot") is None:
        skip("no dovecot")
    owner, uid, gid = store_owner()
    d = os.path.join(WORK, "dovecot")
    os.makedirs(os.path.join(d, "run"))
    os.makedirs(os.path.join(d, "state"))
    helper = os.path.join(d, "glomail-checkpassword")
    # Dovecot runs the helper by path from its auth process (the store's
    # owner): a copy where that user may run it.
    shutil.copy(ARGS.checkpassword, helper)
    for p in (WORK, d):
        os.chmod(p, 0o755)
    snippet = open(ARGS.dovecot_conf).read()
    snippet = re.sub(r"args = \S*/glomail-checkpassword ",
                     "args = %s " % helper, snippet)
    snippet = snippet.replace("/var/lib/glomail", data)
    snippet = snippet.replace("user = glomail", "user = " + owner)
    lines = ["!include %s/99-glomail.conf" % d,
             "base_dir = %s/run" % d,
             "state_dir = %s/state" % d,
             "instance_name = glomail-test-%d" % os.getpid(),
             "log_path = %s/dovecot.log" % d,
             "protocols = imap",
             "listen = 127.0.0.1",
             "ssl = no",
             "disable_plaintext_auth = no"]
    port = free_port()
    if os.getuid() != 0:
        # Unprivileged: every Dovecot process is this user.
        group = grp.getgrgid(gid).gr_name
        snippet = snippet.replace("$default_internal_group", group)
        lines += ["default_internal_user = " + owner,
                  "default_internal_group = " + group,
                  "default_login_user = " + owner,
                  "first_valid_uid = %d" % uid]
    open(os.path.join(d, "99-glomail.conf"), "w").write(snippet)
    # A sanitized helper reserves terabytes of shadow memory: no address
    # space limit on the auth process that runs it.
    lines += ["service auth {", "  vsz_limit = 0", "}"]
    lines += ["service imap-login {", "  inet_listener imap {",
              "    address = 127.0.0.1", "    port = %d" % port, "  }",
              "  inet_listener imaps {", "    port = 0", "  }", "}"]
    conf = os.path.join(d, "dovecot.conf")
    open(conf, "w").write("\n".join(lines) + "\n")
    proc = subprocess.Popen(["dovecot", "-F", "-c", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "stderr"), "wb"))
    PROCS.append(proc)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return proc.poll() is not None and None
    if not wait_for(up, timeout=20) or proc.poll() is not None:
        for f in ("stderr", "dovecot.log"):
            p = os.path.join(d, f)
            if os.path.exists(p):
                print(open(p, errors="replace").read())
        check(False, "dovecot started on the shipped snippet")
    return proc, port, os.path.join(d, "dovecot.log")


def imap(port, user, password=PASSWORD):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.sock.settimeout(30)
    m.login(user, password)
    return m


def imap_messages(m):
    """{uid: (subject, flags)} of INBOX, after a NOOP."""
    m.noop()
    typ, data = m.uid("FETCH", "1:*",
                      "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM TO)])")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
        hdr = email.message_from_bytes(item[1])
        subj = str(email.header.make_header(
            email.header.decode_header(hdr["Subject"])))
        out[uid] = (subj, flags, hdr["From"], hdr["To"])
    return out


def scenario_dovecot():
    data = new_store("dovecot", owner=True)
    a = Glomaild("a", data, owner=True).start()
    b = Glomaild("b", data, owner=True).start()
    dv, iport, dlog = dovecot_start(data)
    check(register(a.port, "Alice") == 1 and register(b.port, "bob") == 1,
          "accounts made through glomail")
    held = login(b.port, "alice")         # logged in before IMAP changes
    subjects = ["R\u00e9union \u00e0 10h \u2713", "plain ascii", "third one"]
    c = login(a.port, "bob")
    for s in subjects:
        check(send(c, "bob", "alice", s, "body of " + s + "\n") == 1,
              "bob sends %r" % s)
    c.close()
    try:
        imap(iport, "alice", "Wrong00Passw")
        check(False, "a wrong password is refused over IMAP")
    except imaplib.IMAP4.error:
        check(True, "a wrong password is refused over IMAP")
    try:
        imap(iport, "nobody-here")
        check(False, "an unknown account is refused over IMAP")
    except imaplib.IMAP4.error:
        check(True, "an unknown account is refused over IMAP")
    m = imap(iport, "Alice@" + DOMAIN)
    check(True, "imaplib logs in with the glomail password")
    typ, dat = m.select("INBOX")
    check(typ == "OK" and int(dat[0]) == 3, "IMAP sees the 3 messages")
    msgs = imap_messages(m)
    check(sorted(s for s, _, _, _ in msgs.values()) == sorted(subjects),
          "subjects decode to what was sent")
    check(all(f == "bob@" + DOMAIN and t == "alice@" + DOMAIN
              for _, _, f, t in msgs.values()), "From and To headers")
    check(all("\\Seen" not in fl for _, fl, _, _ in msgs.values()),
          "nothing seen yet")
    # glomail -> IMAP: reading marks seen.
    lst = listing(held)
    num = [n for n, _, s in lst if s == subjects[0]][0]
    check(read(held, num)["subject"] == subjects[0], "glomail reads one")
    msgs = imap_messages(m)
    seen = [s for s, fl, _, _ in msgs.values() if "\\Seen" in fl]
    check(seen == [subjects[0]], "IMAP shows the message glomail read as "
          "seen")
    # IMAP -> glomail: seen and flagged set over IMAP.
    uid = [u for u, v in msgs.items() if v[0] == subjects[1]][0]
    m.uid("STORE", str(uid), "+FLAGS", "(\\Seen \\Flagged)")
    names = message_files(data, "alice")
    flagged = [n for n in names if n.endswith(tuple(":2," + f for f in
                                                    ("FS",)))]
    check(len(flagged) == 1, "IMAP's flags are in the file name (%r)" % names)
    num = [n for n, _, s in listing(held) if s == subjects[1]][0]
    e = read(held, num)
    check(e is not None and e["content"] == "body of %s\n" % subjects[1],
          "glomail still reads the message IMAP flagged and moved")
    names = message_files(data, "alice")
    check(any(n.endswith(":2,FS") for n in names),
          "glomail's read kept IMAP's flags")
    # IMAP -> glomail: expunge.
    uid = [u for u, v in msgs.items() if v[0] == subjects[2]][0]
    m.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
    m.expunge()
    check(len(message_files(data, "alice")) == 2, "the expunged file is gone")
    lst = listing(held)
    check(stats(held) == 2 and sorted(s for _, _, s in lst) ==
          sorted(subjects[:2]), "the held glomail session no longer lists "
          "the message expunged over IMAP (next request)")
    fresh = login(a.port, "alice")
    check(stats(fresh) == 2, "a fresh session agrees")
    # glomail -> IMAP: a new delivery appears at the next NOOP.
    c = login(a.port, "bob")
    send(c, "bob", "alice", "late news", "x\n")
    c.close()
    check(sorted(s for s, _, _, _ in imap_messages(m).values()) ==
          sorted(subjects[:2] + ["late news"]), "IMAP sees a new delivery")
    # The mailbox extension and IMAP: flags both ways, deletion.
    bysubj = {e["subject"]: e for e in mb_list(held).values()}
    check(bysubj[subjects[1]]["flagged"] and bysubj[subjects[1]]["seen"] and
          not bysubj["late news"]["flagged"],
          "glomail's structured list shows IMAP's \\Flagged and \\Seen")
    late = bysubj["late news"]["id"]
    r = held.req(23, {"ids": [late], "add": ["flagged", "seen"]})
    check(r["header"] == 1, "glomail flags the late message: %s" % r)
    fl = [f for s, f, _, _ in imap_messages(m).values() if s == "late news"]
    check(fl and "\\Flagged" in fl[0] and "\\Seen" in fl[0],
          "IMAP shows glomail's flags (%r)" % fl)
    r = held.req(23, {"ids": [bysubj[subjects[1]]["id"]],
                      "remove": ["flagged"]})
    fl = [f for s, f, _, _ in imap_messages(m).values() if s == subjects[1]]
    check(r["header"] == 1 and fl and "\\Flagged" not in fl[0] and
          "\\Seen" in fl[0], "IMAP sees glomail clear a flag (%r)" % fl)
    r = held.req(22, {"ids": [bysubj[subjects[0]]["id"]]})
    check(r["header"] == 1 and
          sorted(s for s, _, _, _ in imap_messages(m).values()) ==
          sorted([subjects[1], "late news"]),
          "a message deleted with glomail is gone over IMAP")
    m.logout()
    held.close()
    fresh.close()
    if ARGS.ctl:
        check(ctl(a, "user", "lock", "alice").returncode == 0,
              "alice locked through glomailctl")
        try:
            imap(iport, "alice").logout()
            check(False, "IMAP refuses a locked account")
        except imaplib.IMAP4.error:
            check(True, "IMAP refuses a locked account")
        check(ctl(a, "user", "unlock", "alice").returncode == 0,
              "alice unlocked")
        r = ctl(b, "user", "passwd", "alice", "--password-stdin",
                stdin="Changed0Passw\n")
        check(r.returncode == 0, "alice's password changed through b")
        imap(iport, "alice", "Changed0Passw").logout()
        check(True, "IMAP takes the new password at the next login")
    log = open(dlog, errors="replace").read()
    check("Error" not in log and "Fatal" not in log,
          "Dovecot's log has no error" + ("" if "Error" not in log else
                                          ":\n" + log))
    dv.terminate()
    dv.wait(timeout=15)


def scenario_race():
    seconds = float(os.environ.get("CLUSTER_RACE_SECONDS", "10"))
    data = new_store("race", owner=True)
    a = Glomaild("a", data, owner=True).start()
    b = Glomaild("b", data, owner=True).start()
    dv, iport, dlog = dovecot_start(data)
    check(register(a.port, "box") == 1, "account")
    held = login(a.port, "box")
    acked, expunged, errors = [], set(), []
    lock, stop = threading.Lock(), threading.Event()

    def deliver(inst, k):
        c = login(inst.port, "box")
        i = 0
        while not stop.is_set():
            s = "r%d-%d" % (k, i)
            if send(c, "box", "box", s, "x\n") == 1:
                with lock:
                    acked.append(s)
            else:
                errors.append(s)
            i += 1
        c.close()

    def expunger():
        m = imap(iport, "box")
        m.select("INBOX")
        rounds = 0
        while not stop.is_set():
            msgs = imap_messages(m)
            doomed = [u for u, v in msgs.items()
                      if int(v[0].split("-")[1]) % 3 == 0]
            if doomed:
                m.uid("STORE", ",".join(map(str, doomed)), "+FLAGS",
                      "(\\Deleted)")
                m.expunge()
                with lock:
                    expunged.update(msgs[u][0] for u in doomed)
            rounds += 1
            time.sleep(0.02)
        # A last round after the deliveries stopped.
        msgs = imap_messages(m)
        doomed = [u for u, v in msgs.items()
                  if int(v[0].split("-")[1]) % 3 == 0]
        if doomed:
            m.uid("STORE", ",".join(map(str, doomed)), "+FLAGS", "(\\Deleted)")
            m.expunge()
            expunged.update(msgs[u][0] for u in doomed)
        final = sorted(v[0] for v in imap_messages(m).values())
        m.logout()
        result["imap"] = final
        result["rounds"] = rounds
    result = {}
    ts = [threading.Thread(target=deliver, args=(inst, k))
          for k, inst in enumerate((a, b))]
    ts.append(threading.Thread(target=expunger))
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    want = sorted(set(acked) - expunged)
    check(not errors, "every delivery acknowledged (%d)" % len(acked))
    check(result["rounds"] > 10 and len(expunged) > 10,
          "%d IMAP rounds expunged %d messages meanwhile" %
          (result["rounds"], len(expunged)))
    check(expunged <= set(acked), "IMAP expunged only delivered messages")
    check(result["imap"] == want, "IMAP holds exactly the delivered, "
          "unexpunged messages (%d)" % len(want))
    for c, what in ((held, "held"), (login(b.port, "box"), "fresh")):
        got = sorted(s for _, _, s in listing(c))
        check(got == want and stats(c) == len(want),
              "glomail's %s session agrees: no loss, no duplicate" % what)
        c.close()
    check(len(message_files(data, "box")) == len(want), "the store agrees")
    dv.terminate()
    dv.wait(timeout=15)


def owner_copy(path):
    """A copy of the program at path that the store's owner can run,
    wherever the build tree is (under /root, it could not)."""
    d = os.path.join(WORK, "bin")
    os.makedirs(d, exist_ok=True)
    os.chmod(WORK, 0o711)
    os.chmod(d, 0o755)
    dst = os.path.join(d, os.path.basename(path))
    if not os.path.exists(dst):
        shutil.copy2(path, dst)
        os.chmod(dst, 0o755)
    return dst


def checkpassword(data, fd3, env=None, prog=None, owner=False):
    """Run the helper as Dovecot does: the request on descriptor 3, the
    reply program (here env, printing what it was given) as its argument."""
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    helper = owner_copy(ARGS.checkpassword) if owner else ARGS.checkpassword
    argv = ["sh", "-c", 'exec "$0" "$@" 3<&0', helper, data,
            prog or "/usr/bin/env"]
    if owner:
        argv = as_owner(argv)
    p = subprocess.run(argv, input=fd3, env=e, capture_output=True,
                       timeout=30)
    out = dict(l.split("=", 1) for l in p.stdout.decode().splitlines()
               if "=" in l)
    return p.returncode, out, p.stderr.decode()


def scenario_checkpassword():
    data = new_store("checkpassword")
    a = Glomaild("a", data).start()
    check(register(a.port, "Carla") == 1, "an account made through glomail")
    rc, env, _ = checkpassword(data, b"carla\0" + PASSWORD.encode() + b"\0\0")
    home = os.path.join(os.path.realpath(data), "carla")
    st = os.stat(home)
    check(rc == 0 and env.get("USER") == "carla" and env.get("HOME") == home,
          "a good password: USER and HOME (the Maildir) for checkpassword-reply")
    check(env.get("userdb_uid") == str(st.st_uid) and
          env.get("userdb_gid") == str(st.st_gid) and
          env.get("userdb_mail") == "maildir:~" and
          env.get("EXTRA") == "userdb_uid userdb_gid userdb_mail",
          "the Maildir's owner as the mail processes' uid and gid, via EXTRA")
    rc, _, _ = checkpassword(data, b"CARLA\0" + PASSWORD.encode() + b"\0\0")
    check(rc == 0, "names are case-insensitive")
    for what, req in (("a wrong password", b"carla\0Wrong00Passw\0\0"),
                      ("an unknown account", b"nobody\0Wrong00Passw\0\0"),
                      ("a path for a name", b"../carla\0" +
                       PASSWORD.encode() + b"\0\0"),
                      ("an empty name", b"\0" + PASSWORD.encode() + b"\0\0")):
        rc, env, _ = checkpassword(data, req)
        check(rc == 1 and "USER" not in env, "%s: exit 1, nothing run" % what)
    for what, req in (("over 512 bytes", b"carla\0" + b"x" * 600 + b"\0"),
                      ("no NUL", b"carla"),
                      ("no NUL after the password", b"carla\0" +
                       PASSWORD.encode())):
        rc, env, _ = checkpassword(data, req)
        check(rc == 2 and "USER" not in env, "%s: exit 2" % what)
    rc, env, _ = checkpassword(data, b"carla\0\0", {"AUTHORIZED": "1"})
    check(rc == 0 and env.get("AUTHORIZED") == "2" and
          env.get("HOME") == home, "a userdb lookup (AUTHORIZED=1)")
    rc, env, _ = checkpassword(data, b"ghost\0\0", {"AUTHORIZED": "1"})
    check(rc == 3, "a userdb lookup of an unknown account: exit 3")
    rc, env, _ = checkpassword(os.path.join(data, "missing"),
                            b"carla\0" + PASSWORD.encode() + b"\0\0")
    check(rc == 111, "no store: a temporary failure (111)")
    rc, env, _ = checkpassword(data, b"carla\0" + PASSWORD.encode() + b"\0\0",
                            prog=os.path.join(WORK, "no-such-program"))
    check(rc == 111, "no reply program: 111")
    if os.getuid() == 0:
        # Run as a user the private store shuts out (a helper started by
        # Dovecot's auth process under the wrong user).
        rc, env, err = checkpassword(data, b"carla\0" + PASSWORD.encode() +
                                     b"\0\0", owner=True)
        check(rc == 111 and "store's owner" in err,
              "a store the helper may not read: 111 and a clear log line, "
              "not a refused password")
    a.kill()


SCENARIOS = {
    "checkpassword": scenario_checkpassword,
    "instances": scenario_instances,
    "crash": scenario_crash,
    "names": scenario_names,
    "haproxy": scenario_haproxy,
    "dovecot": scenario_dovecot,
    "race": scenario_race,
}


def main():
    global ARGS, WORK
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--glomaild", required=True)
    p.add_argument("--glomaild-faults", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--checkpassword", required=True)
    p.add_argument("--ctl", help="glomailctl, when it is built")
    p.add_argument("--seed-replay", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--dovecot-conf", required=True)
    ARGS = p.parse_args()
    WORK = tempfile.mkdtemp(prefix="glomail-cluster-%s." % ARGS.scenario,
                            dir=os.environ.get("TMPDIR", "/tmp"))
    rc = 1
    try:
        SCENARIOS[ARGS.scenario]()
        rc = 0
    except SystemExit as e:
        rc = e.code
    finally:
        stop_all()
        if rc == 0 and os.environ.get("GLOMAIL_KEEP_TEST_DIR") is None:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("kept " + WORK)
    return rc


if __name__ == "__main__":
    sys.exit(main())
