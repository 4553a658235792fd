#!/usr/bin/env python3
"""Talk to a real glomaild the way clients of the original assignment do
(Python sockets, 4-byte big-endian length + json.dumps), then open the store
it wrote (and then changed through the mailbox extension: flags, deletes) with
Python's standard mail readers (mailbox.Maildir and the email
package), as any Maildir tool would.

usage: store_readers.py PATH_TO_GLOMAILD
"""
import email
import email.header
import email.policy
import json
import mailbox
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time


def send_mesg(sock, obj):
    data = json.dumps(obj).encode("utf-8")
    sock.sendall(struct.pack("!I", len(data)) + data)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed")
        buf += chunk
    return buf


def recv_mesg(sock):
    (length,) = struct.unpack("!I", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, length).decode("utf-8"))


def request(sock, header, payload=None):
    msg = {"header": header}
    if payload is not None:
        msg["payload"] = payload
    send_mesg(sock, msg)
    return recv_mesg(sock)


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)
    print("ok: " + what)


def mutt_ids(work, maildir, pattern):
    """The Message-IDs of the messages mutt -f (read-only) matches with
    pattern, piped out one by one under a pseudo-terminal."""
    out = os.path.join(work, "mutt.out")
    if os.path.exists(out):
        os.unlink(out)
    os.makedirs(os.path.join(work, "Mail"), exist_ok=True)
    cmd = ("mutt -n -F /dev/null -R -f %s -e 'set pipe_split=yes; set "
           "wait_key=no' -e 'push \"<tag-pattern>%s<enter><tag-prefix>"
           "<pipe-message>cat >>%s<enter><exit>\"'"
           % (maildir, pattern, out))
    subprocess.run(["script", "-qec", cmd, "/dev/null"],
                   env=dict(os.environ, TERM="xterm", HOME=work),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60, check=False)
    text = open(out, errors="replace").read() if os.path.exists(out) else ""
    # (No "^" in the pushed keys: mutt reads it as a control key.)
    return {line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.lower().startswith("message-id:")}


def main():
    server = sys.argv[1]
    work = tempfile.mkdtemp(prefix="glomail-readers.")
    data = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "w+")
    proc = subprocess.Popen([server, "--listen", "127.0.0.1:0", "--smtp-listen", "off",
                             "--data-dir", data],
                            stderr=log)
    try:
        port = None
        for _ in range(2000):
            log.seek(0)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.01)
        check(port is not None, "server started")
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        pw = "Interop0Passw"
        check(request(sock, 4, {"username": "Zoe", "password": pw}) == {"header": 1},
              "register")
        subject = "R\u00e9union \u00e0 10h \u2713 " + "long " * 20
        body = "ligne un \u00e9\nligne deux \u2713\n.\nFrom the start\n"
        reply = request(sock, 9, {"sender": "zoe@glo2000.ca",
                                  "destination": "zoe@glo2000.ca",
                                  "subject": subject, "date": "ignored",
                                  "content": body})
        check(reply == {"header": 1}, "send to self")
        reply = request(sock, 10)
        check(reply["header"] == 1 and reply["payload"]["count"] == 1, "stats")
        size = reply["payload"]["size"]
        # Subjects that would not survive being written as is go encoded.
        odd = ["=?utf-8?q?=1b[2J=0d=0a?=", " leading blank", "trailing blank ",
               "=?UTF-8?B?SGk=?= and =?iso-8859-1?q?caf=E9?=", "x" * 998,
               "\u00e9" * 499]
        for s in odd:
            reply = request(sock, 9, {"destination": "zoe@glo2000.ca",
                                      "subject": s, "content": "odd"})
            check(reply == {"header": 1}, "send subject %r" % s[:30])
        send_mesg(sock, {"header": 3})
        sock.close()


        box = mailbox.Maildir(os.path.join(data, "zoe"), factory=None, create=False)
        keys = box.keys()
        check(len(keys) == 1 + len(odd), "mailbox.Maildir sees every message")
        raws = [box.get_bytes(k) for k in keys]
        raw = [r for r in raws if r.endswith(body.encode("utf-8"))][0]
        got = sorted(str(email.message_from_bytes(
            r, policy=email.policy.default)["Subject"])
            for r in raws if r.endswith(b"\n\nodd"))
        check(got == sorted(odd), "odd subjects decode to exactly what was sent")
        check(all(len(line) <= 78 for r in raws
                  for line in r.split(b"\n\n", 1)[0].split(b"\n")),
              "every header line folded")
        check(len(raw) == size, "stats size is the file's size")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        check(str(msg["Subject"]) == subject, "RFC 2047 subject decodes")
        check(str(msg["From"]) == "zoe@glo2000.ca", "From header")
        check(str(msg["To"]) == "zoe@glo2000.ca", "To header")
        check(msg["Message-ID"] is not None, "Message-ID present")
        check(msg.get_content_type() == "text/plain", "text/plain")
        check(msg.get_content_charset() == "utf-8", "charset utf-8")
        check(msg.get_payload(decode=True).decode("utf-8") == body, "body intact")
        check(email.utils.parsedate_to_datetime(msg["Date"]) is not None,
              "Date parses")
        check(all(len(line) <= 998 for line in raw.split(b"\n")),
              "no line over 998 bytes")
        check(max(len(line) for line in raw.split(b"\n\n", 1)[0].split(b"\n")) <= 78,
              "header lines folded")
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        check(request(sock, 5, {"username": "zoe", "password": pw}) == {"header": 1},
              "login")
        # The mailbox extension: flag one, read one, delete one, by id.
        reply = request(sock, 20)
        check(reply["header"] == 1 and reply["payload"]["total"] == 1 + len(odd),
              "structured list")
        ids = [m["id"] for m in reply["payload"]["messages"]]
        flagged, seen, gone, unseen = ids[0], ids[1], ids[2], ids[3]
        check(request(sock, 23, {"ids": [flagged], "add": ["flagged"]})["header"] == 1,
              "flag by id")
        check(request(sock, 21, {"id": seen})["header"] == 1, "read by id")
        check(request(sock, 23, {"ids": [unseen], "add": ["seen", "flagged"]})["header"] == 1,
              "seen and flagged by id")
        check(request(sock, 23, {"ids": [unseen], "remove": ["seen"]})["header"] == 1,
              "unseen by id")
        check(request(sock, 22, {"ids": [gone]})["payload"]["deleted"] == 1,
              "delete by id")
        send_mesg(sock, {"header": 3})
        sock.close()
        box = mailbox.Maildir(os.path.join(data, "zoe"), create=False)
        check(sorted(box.keys()) == sorted(i for i in ids if i != gone),
              "mailbox.Maildir keys are the ids, the deleted one gone")
        check(box[flagged].get_flags() == "F" and box[flagged].get_subdir() == "cur",
              "flagged message: F in cur/")
        check(box[seen].get_flags() == "S", "read message: S")
        check(box[unseen].get_flags() == "F" and box[unseen].get_subdir() == "cur",
              "marked unseen: F without S, in cur/")
        check(all(box[i].get_flags() == "" for i in ids[4:]), "others unflagged")
        # mutt reads the same flags: its own patterns pick the messages.
        mid = {i: box[i]["Message-ID"] for i in box.keys()}
        for pattern, want in (("~F", {flagged, unseen}), ("~R", {seen}),
                              ("~U", set(mid) - {seen})):
            got = mutt_ids(work, os.path.join(data, "zoe"), pattern)
            check(got == {mid[i] for i in want},
                  "mutt -f: %s matches what glomail set (%d)"
                  % (pattern, len(want)))
        proc.terminate()
        check(proc.wait(timeout=20) == 0, "clean stop")
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
