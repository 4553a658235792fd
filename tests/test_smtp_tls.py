#!/usr/bin/env python3
"""SMTP submission under TLS: STARTTLS (587) and implicit TLS (465), AUTH
PLAIN and LOGIN only under TLS, the sender and From: bound to the account,
Date/Message-ID added, STARTTLS with commands appended refused, the session
reset after the handshake, failed AUTH throttled as JSON logins are; Python's
smtplib (starttls + login, SMTP_SSL) and swaks (-tls, -a PLAIN, -tlsc).

usage: test_smtp_tls.py PATH_TO_GLOMAILD   (GLOMAIL_TLS_CERTS: the test certs)
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import PASSWORD, Raw, Server, check, inbox, json_session, \
    register


def port_of(srv, kind):
    m = re.search(r"listening for %s on 127\.0\.0\.1:(\d+)" % kind, srv.log())
    return int(m.group(1))


def context(certs):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
    ctx.check_hostname = False
    return ctx


def tls_raw(port, certs):
    """A raw client already past STARTTLS: (socket file, ssl socket)."""
    c = Raw(None, port=port)
    c.cmd("EHLO client.test")
    code, _ = c.cmd("STARTTLS")
    assert code == 220
    s = context(certs).wrap_socket(c.sock, server_hostname="localhost")
    c.sock = s
    return c


def main():
    certs = os.environ.get("GLOMAIL_TLS_CERTS")
    if not certs or not os.path.exists(os.path.join(certs, "server.crt")):
        print("GLOMAIL_TLS_CERTS does not hold the test certificates")
        sys.exit(1)
    srv = Server(sys.argv[1], [
        "--submission-listen", "127.0.0.1:0",
        "--submissions-listen", "127.0.0.1:0",
        "--tls-cert", os.path.join(certs, "server.crt"),
        "--tls-key", os.path.join(certs, "server.key"),
        "--login-penalty", "400"], tag="smtptls")
    try:
        register(srv, "bob", "alice", "carol")
        sub = port_of(srv, "submission")
        subs = port_of(srv, "submissions")

        # Before TLS: STARTTLS offered, AUTH and MAIL refused.
        c = Raw(srv, port=sub)
        code, lines = c.cmd("EHLO client.test")
        check("STARTTLS" in lines and not any(l.startswith("AUTH")
                                              for l in lines),
              "submission EHLO: STARTTLS, no AUTH before TLS")
        check(c.cmd("AUTH PLAIN AGJvYgB4")[1][0].startswith("5.7.11"),
              "AUTH before TLS: 538 5.7.11")
        check(c.cmd("MAIL FROM:<bob@glo2000.ca>")[1][0].startswith("5.7.0"),
              "MAIL before TLS: 530 5.7.0")
        c.close()
        check("AGJvYgB4" not in srv.log(), "AUTH data never logged")

        # STARTTLS injection: commands in the same write are refused.
        c = Raw(srv, port=sub)
        c.cmd("EHLO client.test")
        c.send(b"STARTTLS\r\nMAIL FROM:<bob@glo2000.ca>\r\n")
        code, lines = c.reply()
        check(code == 554 and c.closed(),
              "STARTTLS with a command appended: 554 and close")

        # After the handshake the session starts again (RFC 3207 §4.2).
        c = tls_raw(sub, certs)
        check(c.cmd("MAIL FROM:<bob@glo2000.ca>")[0] == 503,
              "after STARTTLS, EHLO again first")
        code, lines = c.cmd("EHLO client.test")
        check("AUTH PLAIN LOGIN" in lines and "STARTTLS" not in lines,
              "EHLO under TLS: AUTH PLAIN LOGIN, no STARTTLS")
        check(c.cmd("MAIL FROM:<bob@glo2000.ca>")[1][0].startswith("5.7.0"),
              "MAIL before AUTH: 530 5.7.0")
        check(c.cmd("AUTH CRAM-MD5")[0] == 504, "unknown mechanism: 504")
        # AUTH LOGIN with the exact challenges neomutt expects.
        code, lines = c.cmd("AUTH LOGIN")
        check((code, lines) == (334, ["VXNlcm5hbWU6"]), "LOGIN: Username:")
        code, lines = c.cmd(base64.b64encode(b"bob").decode())
        check((code, lines) == (334, ["UGFzc3dvcmQ6"]), "LOGIN: Password:")
        code, lines = c.cmd(base64.b64encode(PASSWORD.encode()).decode())
        check(code == 235 and lines[0].startswith("2.7.0"), "LOGIN: 235")
        check(c.cmd("AUTH PLAIN")[0] == 503, "AUTH twice: 503")
        check(c.cmd("MAIL FROM:<alice@glo2000.ca>")[1][0].startswith("5.7.1"),
              "another account's sender: 553 5.7.1")
        check(c.cmd("MAIL FROM:<BOB@glo2000.ca>")[0] == 250,
              "own address (any case): 250")
        c.cmd("RCPT TO:<alice@glo2000.ca>")
        c.cmd("DATA")
        c.send(b"From: carol@glo2000.ca\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
        check(c.reply()[1][0].startswith("5.7.1"),
              "From: another account: 550 5.7.1")
        c.cmd("MAIL FROM:<bob@glo2000.ca>")
        c.cmd("RCPT TO:<alice@glo2000.ca>")
        c.cmd("DATA")
        c.send(b"From: Bob <bob@glo2000.ca>\r\nSubject: no date\r\n\r\nhi\r\n"
               b".\r\n")
        check(c.reply()[0] == 250, "a submitted message")
        c.cmd("QUIT")
        f = srv.files("alice")[0]
        check(b"with ESMTPSA id" in f, "Received: with ESMTPSA")
        check(re.search(rb"\nDate: ", f) is not None and
              re.search(rb"\nMessage-ID: <", f) is not None,
              "Date: and Message-ID: added on submission")

        # Python's smtplib: starttls() and login(), then send_message.
        s = smtplib.SMTP("127.0.0.1", sub, timeout=30)
        s.starttls(context=context(certs))
        s.login("bob@glo2000.ca", PASSWORD)
        s.sendmail("bob@glo2000.ca", ["alice@glo2000.ca"],
                   b"From: bob@glo2000.ca\r\nSubject: smtplib tls\r\n\r\nok\r\n")
        s.quit()
        check(len(srv.files("alice")) == 2, "smtplib starttls + login")
        s = smtplib.SMTP_SSL("127.0.0.1", subs, timeout=30,
                             context=context(certs))
        s.login("bob", PASSWORD)
        s.sendmail("bob@glo2000.ca", ["alice@glo2000.ca"],
                   b"From: bob@glo2000.ca\r\nSubject: implicit\r\n\r\nok\r\n")
        s.quit()
        check(len(srv.files("alice")) == 3, "smtplib SMTP_SSL (port 465)")

        swaks = shutil.which("swaks")
        if swaks is None:
            check(False, "swaks installed (cmake/deps.sh)")
        base = [swaks, "--from", "bob@glo2000.ca", "--to", "alice@glo2000.ca",
                "-a", "PLAIN", "-au", "bob", "-ap", PASSWORD,
                "--header", "From: bob@glo2000.ca"]
        p = subprocess.run(base + ["-tls", "-s", "127.0.0.1:%d" % sub],
                           capture_output=True, timeout=60)
        check(p.returncode == 0, "swaks -tls -a PLAIN")
        p = subprocess.run(base + ["-tlsc", "-s", "127.0.0.1:%d" % subs],
                           capture_output=True, timeout=60)
        check(p.returncode == 0, "swaks -tlsc (implicit TLS) -a PLAIN")
        check(len(srv.files("alice")) == 5, "both stored")

        # A wrong password: 535, the JSON login's log line, and the next
        # check for that account waits out the same penalty.
        s = smtplib.SMTP_SSL("127.0.0.1", subs, timeout=30,
                             context=context(certs))
        try:
            s.login("carol", "Wrong0Password")
            check(False, "a wrong password is refused")
        except smtplib.SMTPAuthenticationError as e:
            check(e.smtp_code == 535, "wrong password: 535 5.7.8")
        s.close()
        check("login failed user=carol" in srv.log(),
              "the failure logged as a JSON login's")
        t0 = time.time()
        sock = json_session(srv, "carol")
        sock.close()
        check("login user=carol delayed" in srv.log(),
              "the next JSON login for the account is delayed (one "
              "throttle for both protocols)")
        check(len(inbox(srv, "alice")) == 5, "JSON list shows them")
        print("took %.1f s" % (time.time() - t0))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
