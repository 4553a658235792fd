"""SMTP deliveries through the delivery rules, against a real glomaild
with an aliases file: a group of three (one file, linked into each
mailbox), postmaster, duplicates in any case, mailer-daemon refused at
RCPT, the 101st RCPT, a full mailbox refused at the end of data with
552 5.2.2 and nothing stored, a full mailbox among others (the others get
it, the local sender a notice), and a vacation reply once per sender."""
import os
import sys
import tempfile
import time

from smtp_support import (DOMAIN, Raw, Server, accounts_on_disk, check,
                          inbox, json_session, register, request)


def transaction(srv, sender, rcpts, subject, extra=""):
    """One MAIL/RCPT.../DATA; ([RCPT codes], (code, lines) of the end)."""
    c = Raw(srv)
    c.cmd("EHLO client.test")
    check(c.cmd("MAIL FROM:<%s>" % sender)[0] == 250, "MAIL " + subject)
    codes = [c.cmd("RCPT TO:<%s>" % r)[0] for r in rcpts]
    end = (0, [])
    if 250 in codes:
        check(c.cmd("DATA")[0] == 354, "DATA " + subject)
        c.send(("From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\n"
                "Hello by SMTP\r\n.\r\n" % (sender, ", ".join(rcpts),
                                           subject, extra)).encode())
        end = c.reply()
    c.cmd("QUIT")
    c.close()
    return codes, end


def with_subject(srv, user, subject):
    """The names of user's files in new/ holding the subject."""
    d = os.path.join(srv.data, user, "new")
    out = []
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            if ("Subject: %s\n" % subject).encode() in f.read():
                out.append(os.path.join(d, n))
    return out


def tmp_empty(srv, *users):
    return all(not os.listdir(os.path.join(srv.data, u, "tmp"))
               for u in users)


def main():
    fd, aliases = tempfile.mkstemp(prefix="glomail-aliases.")
    os.write(fd, b"team: alice, bob, carol\n")
    os.close(fd)
    try:
        srv = Server(sys.argv[1], ["--aliases", aliases, "--postmaster",
                                   "root"], tag="smtp-delivery")
    finally:
        os.unlink(aliases)
    try:
        register(srv, "alice", "bob", "carol", "sam", "root", "qfull")

        # A group of three: one 250, one file linked into each mailbox.
        codes, end = transaction(srv, "sam@" + DOMAIN, ["team@" + DOMAIN],
                                 "Group by SMTP")
        check(codes == [250] and end[0] == 250, "RCPT to a group: 250")
        files = [with_subject(srv, u, "Group by SMTP")
                 for u in ("alice", "bob", "carol")]
        check([len(f) for f in files] == [1, 1, 1],
              "each member of the group has one copy")
        inodes = {os.stat(f[0]).st_ino for f in files}
        check(len(inodes) == 1 and os.stat(files[0][0]).st_nlink == 3,
              "one file, hard-linked into the three mailboxes")
        check(tmp_empty(srv, "alice", "bob", "carol"), "no tmp/ leftover")
        names = [line for line, _ in inbox(srv, "carol")]
        check(any("Group by SMTP" in n for n in names),
              "the group's copy is in the JSON list")

        # Duplicates in any case, and a member named beside its group.
        codes, end = transaction(srv, "sam@" + DOMAIN,
                                 ["Alice@%s" % DOMAIN.upper(),
                                  "alice@" + DOMAIN, "team@" + DOMAIN],
                                 "Dup by SMTP")
        check(end[0] == 250 and
              [len(with_subject(srv, u, "Dup by SMTP"))
               for u in ("alice", "bob", "carol")] == [1, 1, 1],
              "duplicates get one copy")

        # postmaster (with and without the domain) goes to root.
        codes, end = transaction(srv, "sam@" + DOMAIN, ["postmaster"],
                                 "To postmaster")
        check(codes == [250] and end[0] == 250 and
              len(with_subject(srv, "root", "To postmaster")) == 1,
              "RCPT <postmaster> goes to the postmaster account")
        codes, _ = transaction(srv, "sam@" + DOMAIN,
                               ["mailer-daemon@" + DOMAIN], "To daemon")
        check(codes == [550], "mailer-daemon receives nothing: 550")

        # The 101st RCPT: 452, and the 100 still get it.
        c = Raw(srv)
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<sam@%s>" % DOMAIN)
        accounts_on_disk(srv, ["u%d" % i for i in range(101)])
        codes = [c.cmd("RCPT TO:<u%d@%s>" % (i, DOMAIN))[0]
                 for i in range(100)]
        check(codes == [250] * 100, "100 RCPT accepted")
        code, lines = c.cmd("RCPT TO:<u100@%s>" % DOMAIN)
        check(code == 452 and lines[0].startswith("4.5.3"),
              "the 101st RCPT: 452 4.5.3")
        check(c.cmd("DATA")[0] == 354, "DATA for the 100")
        c.send(b"Subject: Hundred\r\n\r\nx\r\n.\r\n")
        check(c.reply()[0] == 250, "the 100 get it")
        check(len(with_subject(srv, "u99", "Hundred")) == 1 and
              not os.listdir(os.path.join(srv.data, "u100", "new")),
              "the 100th has it, the refused 101st has nothing")
        c.cmd("QUIT")
        c.close()

        # A full mailbox: 552 5.2.2 at the end of data, nothing stored.
        with open(os.path.join(srv.data, "qfull", "quota"), "w") as f:
            f.write("100\n")
        codes, end = transaction(srv, "sam@" + DOMAIN, ["qfull@" + DOMAIN],
                                 "Too big")
        check(codes == [250] and end[0] == 552 and
              end[1][0] == "5.2.2 recipient's mailbox is full",
              "a full mailbox: 552 5.2.2 recipient's mailbox is full")
        check(not with_subject(srv, "qfull", "Too big") and
              tmp_empty(srv, "qfull"), "nothing stored for it")
        check(not with_subject(srv, "sam", "Undelivered mail: Too big"),
              "no notice when SMTP refused the message itself")

        # Among others: they get it, the local sender hears of the full one.
        codes, end = transaction(srv, "sam@" + DOMAIN,
                                 ["qfull@" + DOMAIN, "bob@" + DOMAIN],
                                 "Partly full")
        check(end[0] == 250 and
              len(with_subject(srv, "bob", "Partly full")) == 1 and
              not with_subject(srv, "qfull", "Partly full"),
              "a full mailbox among others: the others get it")
        notice = with_subject(srv, "sam", "Undelivered mail: Partly full")
        check(len(notice) == 1 and
              b"qfull@glo2000.ca: recipient's mailbox is full" in
              open(notice[0], "rb").read(),
              "the local sender gets a notice naming the full mailbox")

        # Vacation: one reply per sender, none to an automatic message.
        sock = json_session(srv, "carol")
        r = request(sock, 50, {"on": True, "subject": "Away",
                               "text": "Back soon.\n"})
        check(r.get("header") == 1, "carol turns her vacation reply on")
        sock.close()
        for i in range(2):
            transaction(srv, "sam@" + DOMAIN, ["carol@" + DOMAIN],
                        "Ping %d" % i)
        check(len(with_subject(srv, "sam", "Away")) == 1,
              "one vacation reply to the SMTP sender, not two")
        transaction(srv, "bob@" + DOMAIN, ["carol@" + DOMAIN], "Auto",
                    "Auto-Submitted: auto-generated\r\n")
        check(not with_subject(srv, "bob", "Away"),
              "no vacation reply to an auto-submitted message")
    finally:
        srv.stop()


if __name__ == "__main__":
    t0 = time.time()
    main()
    print("took %.1f s" % (time.time() - t0))
