#!/usr/bin/env python3
"""The SMTP listener over a real socket: every reply path, pipelining as
RFC 2920 allows it, the limits, and the smuggling battery (each malformed
end of data followed in the same write by a second envelope: never two
messages, never a forged envelope); first, the sockets socket activation
passes, under the names of the shipped units.

usage: test_smtp.py PATH_TO_GLOMAILD   (GLOMAIL_TLS_CERTS: the test certs,
for the submission sockets passed by socket activation)
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import (DOMAIN, Raw, Server, accounts_on_disk, check,
                          inbox, register)

MAX_SIZE = 65536


def greeted(srv):
    c = Raw(srv)
    code, _ = c.cmd("EHLO client.test")
    assert code == 250
    return c


def replies(c, n):
    return [c.reply()[0] for _ in range(n)]


def protocol(srv):
    c = Raw(srv)
    check(c.banner[0] == 220 and "ESMTP" in c.banner[1][0], "banner 220 ESMTP")
    code, lines = c.cmd("ehlo [127.0.0.1]")
    check(code == 250, "lower-case ehlo with an address literal")
    exts = [l.split(" ")[0] for l in lines[1:]]
    for e in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
              "HELP"):
        check(e in exts, "EHLO advertises " + e)
    check("SIZE %d" % MAX_SIZE in lines, "SIZE gives the limit")
    check("AUTH" not in " ".join(exts) and "STARTTLS" not in exts,
          "no AUTH nor STARTTLS on the plain listener")
    check(c.cmd("HELO")[0] == 501, "HELO without a name: 501")
    check(c.cmd("EHLO bad..name")[1][0].startswith("5.5.4"),
          "a bad EHLO name: 501 5.5.4")
    check(c.cmd("NOOP") == (250, ["2.0.0 Ok"]), "NOOP")
    code, lines = c.cmd("HELP")
    check(code == 214 and lines[0].startswith("2.0.0"), "HELP 214 2.0.0")
    check(c.cmd("VRFY bob")[1][0].startswith("2.5.2") and
          c.cmd("VRFY nosuchuser")[0] == 252,
          "VRFY: 252 for an account and for none alike")
    check(c.cmd("EXPN staff")[0] == 502, "EXPN 502")
    check(c.cmd("RSET now")[0] == 501, "RSET with an argument: 501")
    check(c.cmd("FOO bar") == (500, ["5.5.2 Command unrecognized"]),
          "unknown verb: 500 5.5.2")
    check(c.cmd("AUTH PLAIN AGJvYgBwYXNz")[0] == 502,
          "AUTH on the plain listener refused")
    check(c.cmd("STARTTLS")[0] == 502, "STARTTLS not offered here")
    c.cmd("QUIT")
    check(c.closed(), "QUIT closes")

    c = Raw(srv)
    check(c.cmd("MAIL FROM:<alice@%s>" % DOMAIN)[1][0].startswith("5.5.1"),
          "MAIL before EHLO: 503 5.5.1")
    c.cmd("HELO client.test")
    check(c.cmd("RCPT TO:<bob@%s>" % DOMAIN)[0] == 503, "RCPT before MAIL: 503")
    check(c.cmd("DATA")[0] == 503, "DATA before MAIL: 503")
    check(c.cmd("MAIL TO:<alice@%s>" % DOMAIN)[0] == 501, "MAIL syntax: 501")
    check(c.cmd("MAIL FROM:<a b@%s>" % DOMAIN)[1][0].startswith("5.1.7"),
          "bad sender: 553 5.1.7")
    check(c.cmd("MAIL FROM:<alice@%s> FOO=1" % DOMAIN)[0] == 555,
          "unknown MAIL parameter: 555")
    check(c.cmd("MAIL FROM:<alice@%s> SIZE=%d" % (DOMAIN, MAX_SIZE + 1))
          [1][0].startswith("5.3.4"), "SIZE over the limit at MAIL: 552 5.3.4")
    check(c.cmd("mail from:<alice@%s> size=100 body=8bitmime" % DOMAIN)[0] ==
          250, "lower-case MAIL with SIZE and BODY")
    check(c.cmd("MAIL FROM:<alice@%s>" % DOMAIN)[0] == 503, "nested MAIL: 503")
    check(c.cmd("DATA")[1][0].startswith("5.5.1"), "DATA without RCPT: 503")
    c.close()
    c = greeted(srv)
    c.cmd("MAIL FROM:<alice@%s>" % DOMAIN)
    check(c.cmd("RCPT TO:<nobody@%s>" % DOMAIN) ==
          (550, ["5.1.1 No such user here"]), "unknown user: 550 5.1.1")
    check(c.cmd("RCPT TO:<bob@example.com>")[1][0].startswith("5.7.1"),
          "another domain: 550 5.7.1, no relaying")
    check(c.cmd("RCPT TO:<bob@%s> NOTIFY=NEVER" % DOMAIN)[0] == 555,
          "unknown RCPT parameter: 555")
    check(c.cmd("RCPT TO:bob")[0] == 501, "RCPT syntax: 501")
    check(c.cmd("rcpt to:<BOB@%s>" % DOMAIN) == (250, ["2.1.5 Ok"]),
          "RCPT of an account, any case: 250 2.1.5")
    check(c.cmd("DATA extra")[0] == 501, "DATA with an argument: 501")
    # EHLO again resets the transaction (RFC 5321 §4.1.4).
    check(c.cmd("EHLO again.test")[0] == 250, "EHLO twice")
    check(c.cmd("RCPT TO:<bob@%s>" % DOMAIN)[0] == 503,
          "the second EHLO dropped the transaction")
    c.close()
    check(srv.new("bob") == [], "nothing stored by refused commands")

    # Error budget: a few bad commands, then 421 and close.
    c = Raw(srv)
    codes = [c.cmd("BOGUS %d" % i)[0] for i in range(9)]
    code, lines = c.cmd("BOGUS 9")
    check(codes == [500] * 9, "bad commands answered 500")
    code2, lines2 = c.reply()
    check(code == 500 and code2 == 421 and lines2[0].startswith("4.7.0"),
          "the 10th bad command: 421 4.7.0")
    check(c.closed(), "... and the session closed")

    # An over-long line: 500 and close.
    c = greeted(srv)
    c.send(b"NOOP " + b"x" * 3000 + b"\r\n")
    check(c.reply() == (500, ["5.5.2 Line too long"]), "line over 2048: 500")
    check(c.closed(), "... and close")
    c = greeted(srv)
    c.send(b"NOOP " + b"x" * 2041 + b"\r\n")
    check(c.reply()[0] == 250, "a 2048-byte line with its CRLF is taken")
    c.close()

    # Another protocol: closed at once.
    c = Raw(srv)
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(c.reply()[0] == 554 and c.closed(), "HTTP request: 554 and close")

    # The 101st recipient.
    names = ["r%03d" % i for i in range(101)]
    accounts_on_disk(srv, names)
    c = greeted(srv)
    c.cmd("MAIL FROM:<alice@%s>" % DOMAIN)
    c.send(b"".join(b"RCPT TO:<%s@%s>\r\n" % (n.encode(), DOMAIN.encode())
                    for n in names))
    got = replies(c, 101)
    check(got[:100] == [250] * 100 and got[100] == 452,
          "100 recipients taken, the 101st gets 452")
    c.send(b"DATA\r\n")
    check(c.reply()[0] == 354, "DATA with 100 recipients")
    c.send(b"Subject: hundred\r\n\r\nto a hundred\r\n.\r\n")
    check(c.reply()[0] == 250, "250 once all 100 copies are stored")
    check(all(len(srv.new(n)) == 1 for n in names[:100]) and
          srv.new(names[100]) == [], "one copy each, none for the 101st")
    one = srv.files(names[0])[0]
    check(b"for <" not in one, "Received names no recipient when there are many")
    c.close()

    # SIZE counted during DATA, then the session goes on.
    c = greeted(srv)
    c.cmd("MAIL FROM:<alice@%s> SIZE=10" % DOMAIN)
    c.cmd("RCPT TO:<bob@%s>" % DOMAIN)
    c.cmd("DATA")
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 70 + b".\r\n")
    check(c.reply()[1][0].startswith("5.3.4"), "too big in DATA: 552 5.3.4")
    check(srv.new("bob") == [], "nothing stored for it")
    check(c.cmd("MAIL FROM:<alice@%s>" % DOMAIN)[0] == 250,
          "the session goes on after 552")
    c.cmd("RCPT TO:<bob@%s>" % DOMAIN)
    c.cmd("DATA")
    c.send(b"Subject: small\r\n\r\n..dot\r\n.\r\n")
    check(c.reply()[1][0].startswith("2.0.0"), "then a message is taken")
    data = srv.files("bob")[0]
    check(data.startswith(b"Return-Path: <alice@glo2000.ca>\nReceived: from "
                          b"client.test ([127.0.0.1])\n"),
          "Return-Path and Received first")
    check(b"with ESMTP id " in data and b"for <bob@glo2000.ca>" in data,
          "Received: with ESMTP, for the one recipient")
    check(data.endswith(b"Subject: small\n\n.dot\n") and b"\r" not in data,
          "stored with LF endings, the stuffed dot removed")
    c.cmd("QUIT")

    # NUL, bare CR, loops: refused at the real end, nothing stored.
    for name, body, enh in (
            ("NUL", b"a\x00b\r\n", "5.6.0"), ("bare CR", b"a\rb\r\n", "5.6.0"),
            ("a mail loop", b"Received: x\r\n" * 100 + b"\r\nb\r\n", "5.4.6")):
        c = greeted(srv)
        c.cmd("MAIL FROM:<>")
        c.cmd("RCPT TO:<carol@%s>" % DOMAIN)
        c.cmd("DATA")
        c.send(body + b".\r\n")
        code, lines = c.reply()
        check(code == 554 and lines[0].startswith(enh),
              "%s in the message: 554 %s" % (name, enh))
        c.close()
    check(srv.new("carol") == [], "none of them stored")

    # A null sender and <postmaster> are taken (RFC 5321 §4.5.1, §4.5.5).
    c = greeted(srv)
    check(c.cmd("MAIL FROM:<>")[0] == 250, "MAIL FROM:<> taken")
    check(c.cmd("RCPT TO:<Postmaster>")[0] in (250, 550),
          "RCPT TO:<Postmaster> parsed (no account here: refused)")
    c.close()


def pipelining(srv):
    before = len(srv.new("dave"))
    c = greeted(srv)
    for i in range(100):
        c.send(b"MAIL FROM:<alice@glo2000.ca>\r\nRCPT TO:<dave@glo2000.ca>\r\n"
               b"DATA\r\n")
        got = replies(c, 3)
        if got != [250, 250, 354]:
            check(False, "group %d: %r" % (i, got))
        c.send(b"Subject: pipelined %d\r\n\r\nbody %d\r\n.\r\n" % (i, i))
        if c.reply()[0] != 250:
            check(False, "message %d acknowledged" % i)
    check(len(srv.new("dave")) == before + 100,
          "100 transactions pipelined as RFC 2920 allows, all stored")
    c.send(b"".join(b"MAIL FROM:<alice@glo2000.ca>\r\nRCPT TO:<dave@glo2000.ca>"
                    b"\r\nRSET\r\n" for _ in range(100)))
    got = replies(c, 300)
    check(got == [250, 250, 250] * 100,
          "100 MAIL/RCPT/RSET groups in one write, answered in order")
    # DATA is a synchronisation point: bytes after it, before its 354.
    c.send(b"MAIL FROM:<alice@glo2000.ca>\r\nRCPT TO:<dave@glo2000.ca>\r\n"
           b"DATA\r\nSubject: blind\r\n\r\nsent blind\r\n.\r\n")
    got = replies(c, 3)
    check(got == [250, 250, 554], "content sent before the 354: 554")
    check(c.closed(), "... and the session closed")
    check(len(srv.new("dave")) == before + 100, "nothing stored for it")


# Malformed ends of data (SEC Consult's and smtpsmug's list), each followed
# in the same write by a second envelope for carol.
ENDINGS = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\r\n.\n",
           b"\n.\r", b".\n", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\n\n.\n\n",
           b"\r\r\n.\r\r\n", b"\r\n .\r\n"]


def smuggling(srv):
    for ending in ENDINGS:
        before = srv.files("bob")
        c = greeted(srv)
        c.cmd("MAIL FROM:<alice@glo2000.ca>")
        c.cmd("RCPT TO:<bob@glo2000.ca>")
        c.cmd("DATA")
        c.send(b"Subject: first\r\n\r\nfirst part" + ending +
               b"MAIL FROM:<admin@glo2000.ca>\r\nRCPT TO:<carol@glo2000.ca>\r\n"
               b"DATA\r\nSubject: forged\r\n\r\nsmuggled\r\n.\r\n")
        code, _ = c.reply()
        c.send(b"QUIT\r\n")
        rest = []
        try:
            while True:
                rest.append(c.reply()[0])
        except (ConnectionError, OSError):
            pass
        after = srv.files("bob")
        new = [f for f in after if f not in before]
        what = "ending %r" % ending
        check(srv.files("carol") == [], what + ": no forged envelope")
        check(len(new) <= 1, what + ": at most one message")
        check(code in (250, 554) and rest == [221],
              what + ": one reply for the message (%d), then QUIT" % code)
        if new:
            check(b"first part" in new[0] and b"smuggled" in new[0],
                  what + ": the whole stays inside one message")
        c.close()


def listing(srv):
    """What arrived by SMTP reads back through the JSON protocol."""
    lines = inbox(srv, "bob")
    check(len(lines) == len(srv.files("bob")), "JSON list shows every message")
    for line, reply in lines:
        check(reply.get("header") == 1 and "content" in reply["payload"],
              "JSON read: " + line[:50])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def opened(port, tls=None):
    """A Raw client on a passed socket, or None when no SMTP greeting comes
    (another protocol, or a failed handshake)."""
    try:
        return Raw(None, port=port, timeout=10, tls=tls)
    except (OSError, ValueError):
        return None


def socket_activation(binary, certs):
    """Sockets passed by the service manager, named as the shipped units
    name them (FileDescriptorName=): the protocol's, then smtp (local
    delivery), submission (STARTTLS, then AUTH) and submissions (TLS from
    the first byte). None of the listen settings is bound then."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        print("skip: no systemd-socket-activate")
        return
    work = tempfile.mkdtemp(prefix="glomail-smtpsa.")
    log = os.path.join(work, "server.log")
    ports = [free_port() for _ in range(4)]
    listen = []
    for p in ports:
        listen += ["-l", "127.0.0.1:%d" % p]
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [activate] + listen +
            ["--fdname=glomaild.socket:smtp:submission:submissions", binary,
             "--data-dir", os.path.join(work, "data"),
             "--tls-cert", os.path.join(certs, "server.crt"),
             "--tls-key", os.path.join(certs, "server.key")] +
            # Addresses glomaild could not bind: the passed sockets replace
            # them, or the start fails.
            [a for key in ("smtp", "submission", "submissions")
             for a in ("--%s-listen" % key, "192.0.2.1:9")],
            stdout=subprocess.DEVNULL, stderr=err)
    try:
        # systemd-socket-activate binds the sockets once it runs; the
        # protocol's then registers the account the smtp socket delivers to.
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", ports[0])).close()
                break
            except OSError:
                time.sleep(0.01)
        register(types.SimpleNamespace(port=ports[0]), "bob")

        c = opened(ports[1])
        check(c is not None and c.banner[0] == 220,
              "socket activation: the socket named smtp greets 220")
        exts = [l.split(" ")[0] for l in c.cmd("EHLO client.test")[1][1:]]
        check("AUTH" not in exts and "STARTTLS" not in exts,
              "smtp socket: EHLO offers neither AUTH nor STARTTLS")
        check(c.cmd("MAIL FROM:<>")[0] == 250 and
              c.cmd("RCPT TO:<bob@%s>" % DOMAIN)[0] == 250,
              "smtp socket: local delivery without AUTH")
        c.close()

        c = opened(ports[2])
        check(c is not None and c.banner[0] == 220,
              "socket activation: the socket named submission greets 220")
        exts = [l.split(" ")[0] for l in c.cmd("EHLO client.test")[1][1:]]
        check("STARTTLS" in exts and "AUTH" not in exts,
              "submission socket: EHLO offers STARTTLS, no AUTH before TLS")
        check(c.cmd("MAIL FROM:<bob@%s>" % DOMAIN)[0] == 530,
              "submission socket: MAIL before AUTH refused (530)")
        c.close()

        ctx = ssl.create_default_context(
            cafile=os.path.join(certs, "ca.crt"))
        c = opened(ports[3], tls=ctx)
        check(c is not None and c.banner[0] == 220,
              "socket activation: the socket named submissions completes "
              "the TLS handshake, then greets 220")
        exts = [l.split(" ")[0] for l in c.cmd("EHLO client.test")[1][1:]]
        check("AUTH" in exts and "STARTTLS" not in exts,
              "submissions socket: EHLO under TLS offers AUTH, no STARTTLS")
        check(c.cmd("MAIL FROM:<bob@%s>" % DOMAIN)[0] == 530,
              "submissions socket: MAIL before AUTH refused (530)")
        c.close()

        # What the administrator reads: each socket under its kind (the
        # one difference submission under TLS would make to submissions).
        with open(log, errors="replace") as f:
            text = f.read()
        for kind, port in zip(("smtp", "submission", "submissions"),
                              ports[1:]):
            check("listening for %s on 127.0.0.1:%d" % (kind, port) in text,
                  "the log shows the %s socket as %s" % (kind, kind))
    except BaseException:
        with open(log, errors="replace") as f:
            print(f.read()[-4000:])
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def main():
    certs = os.environ.get("GLOMAIL_TLS_CERTS")
    if not certs or not os.path.exists(os.path.join(certs, "server.crt")):
        print("GLOMAIL_TLS_CERTS does not hold the test certificates")
        sys.exit(1)
    socket_activation(sys.argv[1], certs)
    srv = Server(sys.argv[1], ["--smtp-max-size", str(MAX_SIZE)])
    try:
        register(srv, "bob", "carol", "dave")
        t0 = time.time()
        protocol(srv)
        pipelining(srv)
        smuggling(srv)
        listing(srv)
        check("AGJvYgBwYXNz" not in srv.log(), "AUTH data never logged")
        print("took %.1f s" % (time.time() - t0))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
