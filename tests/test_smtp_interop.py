#!/usr/bin/env python3
"""Standard SMTP clients against a real glomaild: Python's smtplib, swaks,
msmtp, Postfix's smtp-source and glomail sendmail; then every message is
read back through the JSON list/read, Python's mailbox and mutt -f.

usage: test_smtp_interop.py PATH_TO_GLOMAILD PATH_TO_GLOMAIL
"""
import email
import email.message
import email.policy
import mailbox
import os
import shutil
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import Server, check, inbox, register

TOOLS = ("swaks", "msmtp", "smtp-source", "mutt", "script")


def tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        print("missing %s: install the packages of cmake/deps.sh" % name)
        sys.exit(1)
    return path


def run(argv, stdin=None, env=None, timeout=60):
    p = subprocess.run(argv, input=stdin, capture_output=True, env=env,
                       timeout=timeout)
    if p.returncode != 0:
        print(p.stdout.decode(errors="replace")[-2000:])
        print(p.stderr.decode(errors="replace")[-2000:])
    return p.returncode


def main():
    glomaild, glomail = sys.argv[1], sys.argv[2]
    paths = {t: tool(t) for t in TOOLS}
    srv = Server(glomaild, tag="interop")
    try:
        register(srv, "bob", "alice")
        port = srv.smtp_port
        count = 0

        # smtplib: bytes with bare LFs go as they are (only str is fixed).
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        raw = (b"From: alice@glo2000.ca\nTo: bob@glo2000.ca\nSubject: bare LFs"
               b"\n\nline one\n.leading dot\nlast\n")
        check(s.sendmail("alice@glo2000.ca", ["bob@glo2000.ca"], raw) == {},
              "smtplib sendmail() with bare-LF bytes")
        msg = email.message.EmailMessage()
        msg["From"] = "Alice <alice@glo2000.ca>"
        msg["To"] = "bob@glo2000.ca"
        msg["Subject"] = "R\u00e9union \u2713 demain"
        msg.set_content("Bonjour \u00e9t\u00e9\n")
        msg.add_attachment(b"%PDF-1.4 binary\x00\xff", maintype="application",
                           subtype="pdf", filename="rapport.pdf")
        check(s.send_message(msg) == {},
              "smtplib send_message() with an attachment")
        latin = (b"From: alice@glo2000.ca\r\nTo: bob@glo2000.ca\r\nSubject: "
                 b"=?iso-8859-1?q?caf=E9?=\r\nMIME-Version: 1.0\r\nContent-Type:"
                 b" text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding:"
                 b" 8bit\r\n\r\nd\xe9j\xe0 vu\r\n")
        check(s.sendmail("alice@glo2000.ca", ["bob@glo2000.ca"], latin,
                         mail_options=["BODY=8BITMIME"]) == {},
              "smtplib: an 8-bit Latin-1 message")
        s.quit()
        count += 3

        base = [paths["swaks"], "--server", "127.0.0.1:%d" % port,
                "--from", "alice@glo2000.ca", "--to", "bob@glo2000.ca",
                "--header", "Subject: swaks"]
        check(run(base) == 0, "swaks")
        check(run(base + ["--pipeline"]) == 0, "swaks --pipeline")
        count += 2

        conf = os.path.join(srv.work, "msmtprc")
        with open(conf, "w") as f:
            f.write("account default\nhost 127.0.0.1\nport %d\nfrom "
                    "alice@glo2000.ca\nauth off\ntls off\n" % port)
        os.chmod(conf, 0o600)
        check(run([paths["msmtp"], "-C", conf, "bob@glo2000.ca"],
                  stdin=b"Subject: msmtp\n\npipelined\n") == 0,
              "msmtp (pipelining)")
        count += 1

        check(run([paths["smtp-source"], "-s", "4", "-m", "20", "-l", "1024",
                   "-f", "alice@glo2000.ca", "-t", "bob@glo2000.ca",
                   "-M", "client.test", "127.0.0.1:%d" % port]) == 0,
              "smtp-source -s 4 -m 20 -l 1024")
        check(run([paths["smtp-source"], "-d", "-s", "2", "-m", "10", "-l",
                   "512", "-f", "alice@glo2000.ca", "-t", "bob@glo2000.ca",
                   "-M", "client.test", "127.0.0.1:%d" % port]) == 0,
              "smtp-source -d (one session, several messages)")
        count += 30

        env = dict(os.environ, GLOMAIL_SMTP="127.0.0.1:%d" % port)
        sendmail = os.path.join(os.path.dirname(glomail), "glomail-sendmail")
        check(run([sendmail, "-t", "-f", "alice"], env=env,
                  stdin=b"To: bob\nBcc: alice\nSubject: cron\n\n.x\ndone\n")
              == 0, "glomail-sendmail -t")
        check(run([glomail, "sendmail", "bob@glo2000.ca"], env=env,
                  stdin=b"Subject: plain\n\nbody\n") == 0,
              "glomail sendmail ADDR")
        check(run([glomail, "sendmail", "nosuch"], env=env,
                  stdin=b"Subject: x\n\ny\n") == 67,
              "glomail sendmail: an unknown recipient exits 67")
        count += 2

        files = srv.files("bob")
        check(len(files) == count, "every message is in bob's Maildir (%d)"
              % count)
        check(len(srv.files("alice")) == 1 and
              b"Bcc" not in srv.files("alice")[0],
              "-t: the Bcc recipient got it, without the Bcc line")

        box = mailbox.Maildir(srv.maildir("bob"), factory=None, create=False)
        parsed = [email.message_from_bytes(box.get_bytes(k),
                                           policy=email.policy.default)
                  for k in box.keys()]
        check(len(parsed) == count and all(p["Return-Path"] and p["Received"]
                                           for p in parsed),
              "Python's mailbox reads each, with Return-Path and Received")
        check(all(b"\r" not in f for f in files), "stored with LF endings")

        out = os.path.join(srv.work, "mutt.out")
        # Without ~/Mail, mutt first asks whether to create it.
        os.makedirs(os.path.join(srv.work, "Mail"), exist_ok=True)
        mutt = ("%s -n -F /dev/null -R -f %s -e 'set pipe_split=yes; set "
                "wait_key=no' -e 'push \"<tag-pattern>~A<enter><tag-prefix>"
                "<pipe-message>cat >>%s<enter><exit>\"'"
                % (paths["mutt"], srv.maildir("bob"), out))
        run([paths["script"], "-qec", mutt, "/dev/null"],
            env=dict(os.environ, TERM="xterm", HOME=srv.work))
        seen = open(out, "rb").read() if os.path.exists(out) else b""
        check(seen.count(b"\nReturn-Path: ") + seen.startswith(b"Return-Path: ")
              == count, "mutt -f reads every message")

        lines = inbox(srv, "bob")
        check(len(lines) == count, "JSON list shows every message")
        by = {}
        for line, reply in lines:
            check(reply.get("header") == 1, "JSON read " + line[:40])
            by[reply["payload"]["subject"]] = reply["payload"]
        bare = by["bare LFs"]["content"]
        # smtplib ends bytes not ending in CRLF with one: a blank line.
        check(bare == "line one\n.leading dot\nlast\n\n",
              "bare LFs read back as lines, the dot kept")
        mime = by["R\u00e9union \u2713 demain"]
        check(mime["content"].startswith("Bonjour \u00e9t\u00e9\n") and
              "[attachment: rapport.pdf (application/pdf)]" in mime["content"]
              and "PDF-1.4" not in mime["content"],
              "MIME: the text part shown, the attachment named, not dumped")
        check(mime["sender"] == "alice@glo2000.ca", "sender is the address")
        check(by["caf\u00e9"]["content"] == "d\u00e9j\u00e0 vu\n",
              "Latin-1 body decoded to UTF-8")
        check(any(l.startswith("#") and "swaks" in l for l, _ in lines),
              "list lines name the subject")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
