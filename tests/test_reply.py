#!/usr/bin/env python3
"""The client's reply, reply --all, forward and vacation commands against a
real glomaild, then the stored files read back with Python's email package:
subjects without stacked prefixes, reply-all recipients, and the threading
headers (In-Reply-To, References) of RFC 5322 section 3.6.4; a message to
several recipients (To: and Cc: as given), replies and forwards by stable
id, and flags and deletes as Python's mailbox sees them.

usage: test_reply.py PATH_TO_GLOMAILD PATH_TO_GLOMAIL
"""
import email
import email.policy
import email.utils
import json
import mailbox
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

PW = "Interop0Passw"


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)
    print("ok: " + what)


def messages(data, user):
    """Every message of user's Maildir, parsed by the email package."""
    box = mailbox.Maildir(os.path.join(data, user), factory=None,
                          create=False)
    out = []
    for key in box.keys():
        with box.get_file(key) as f:
            out.append(email.message_from_binary_file(
                f, policy=email.policy.default))
    return out


def with_subject(data, user, subject):
    return [m for m in messages(data, user) if m["Subject"] == subject]


def main():
    server, client = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="glomail-reply.")
    data = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "w+")
    proc = subprocess.Popen([server, "--listen", "127.0.0.1:0",
                             "--data-dir", data, "--smtp-listen", "off"],
                            stderr=log)
    env = dict(os.environ, GLOMAIL_PASSWORD=PW, LC_ALL="C", LANGUAGE="")
    try:
        port = None
        for _ in range(2000):
            log.seek(0)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
            if m:
                port = m.group(1)
                break
            time.sleep(0.01)
        check(port is not None, "server started")

        def run(user, *args, stdin=""):
            return subprocess.run([client, "-d", "127.0.0.1", "-p", port,
                                   "-u", user] + list(args), input=stdin,
                                  capture_output=True, text=True, env=env,
                                  timeout=60)

        for u in ("alice", "bob", "carol", "dave"):
            check(run(u, "register").returncode == 0, "register " + u)
        r = run("alice", "send", "--to", "bob", "--subject", "Plan",
                stdin="Shall we meet?\n")
        check(r.returncode == 0, "alice writes to bob")
        orig = with_subject(data, "bob", "Plan")[0]
        orig_id = orig["Message-ID"]
        check(re.fullmatch(r"<[^<> ]+@glo2000\.ca>", orig_id) is not None,
              "the original has a Message-ID")

        # reply: to the sender only, Re: once, threading headers.
        r = run("bob", "reply", "1", stdin="Yes, Monday.\n")
        check(r.returncode == 0, "bob replies: " + r.stderr)
        got = with_subject(data, "alice", "Re: Plan")
        check(len(got) == 1, "alice has bob's reply")
        re1 = got[0]
        check(re1["In-Reply-To"] == orig_id, "In-Reply-To is the original")
        check(re1["References"] == orig_id, "References is the original")
        body = re1.get_content()
        check(body.startswith("Yes, Monday.\n"), "the typed text first")
        check("> Shall we meet?" in body, "the original quoted")
        check(with_subject(data, "carol", "Re: Plan") == [],
              "carol was not on it")

        # reply to the reply: no "Re: Re:", References grows.
        r = run("alice", "reply", "1", stdin="Good.\n")
        check(r.returncode == 0, "alice replies to the reply: " + r.stderr)
        got = with_subject(data, "bob", "Re: Plan")
        check(len(got) == 1, "one Re:, not Re: Re:")
        check(with_subject(data, "bob", "Re: Re: Plan") == [],
              "never Re: Re:")
        check(got[0]["In-Reply-To"] == re1["Message-ID"],
              "In-Reply-To is the reply answered")
        check(got[0]["References"] == orig_id + " " + re1["Message-ID"],
              "References: the thread, oldest first")

        # reply --all: the sender and every other recipient, never oneself.
        for who in ("carol", "dave"):
            check(run("alice", "send", "--to", who, "--subject", "Team",
                      stdin="All of us\n").returncode == 0,
                  "alice writes to " + who)
        # carol's copy says To: carol only (one recipient per send), so
        # reply --all goes to alice; with a Cc it would add those.
        r = run("carol", "reply", "1", "--all", stdin="Count me in\n")
        check(r.returncode == 0, "carol replies to all: " + r.stderr)
        check(r.stdout.strip().splitlines() == ["sent: alice@glo2000.ca"],
              "reply-all recipients: the sender, not oneself")
        check(len(with_subject(data, "alice", "Re: Team")) == 1,
              "alice has carol's reply-all")
        check(with_subject(data, "carol", "Re: Team") == [],
              "carol sent herself nothing")

        # A message with several To and Cc (written into the Maildir as
        # another delivery agent would; dated to be first in the list): reply --all answers the sender and
        # every other recipient, each once, never oneself.
        check(run("erin", "register").returncode == 0, "register erin")
        raw = ("From: Alice <alice@glo2000.ca>\n"
               "To: carol@glo2000.ca, \"Dave, D.\" <DAVE@glo2000.ca>\n"
               "Cc: erin@glo2000.ca, alice@glo2000.ca\n"
               "Subject: RE: Re: Budget\n"
               "Date: " + email.utils.formatdate(time.time() + 3600) +
               "\n"
               "Message-ID: <budget.1@glo2000.ca>\n"
               "References: <older.1@glo2000.ca>\n"
               "\t<not an id> <older.2@glo2000.ca>\n\n"
               "Numbers attached.\n")
        name = "%d.M1P1Q1.other" % int(time.time() + 100)
        with open(os.path.join(data, "carol", "tmp", name), "w") as f:
            f.write(raw)
        os.rename(os.path.join(data, "carol", "tmp", name),
                  os.path.join(data, "carol", "new", name))
        r = run("carol", "reply", "1", "--all", stdin="Agreed\n")
        check(r.returncode == 0, "carol replies to all on Budget: " +
              r.stderr)
        check(r.stdout.splitlines() == [
            "delivered: alice@glo2000.ca", "delivered: DAVE@glo2000.ca",
            "delivered: erin@glo2000.ca"],
            "reply-all: sender, other To and Cc, once each, in one "
            "message: " + r.stdout)
        copies = [with_subject(data, w, "Re: Budget")[0]
                  for w in ("alice", "dave", "erin")]
        check(len({m["Message-ID"] for m in copies}) == 1 and
              all(m["To"] == "alice@glo2000.ca" and
                  m["Cc"] == "DAVE@glo2000.ca, erin@glo2000.ca"
                  for m in copies),
              "reply-all is one message: To the sender, Cc the others")
        for who in ("alice", "dave", "erin"):
            got = with_subject(data, who, "Re: Budget")
            check(len(got) == 1, who + " has the reply to all")
            check(got[0]["In-Reply-To"] == "<budget.1@glo2000.ca>" and
                  got[0]["References"] == "<older.1@glo2000.ca> "
                  "<older.2@glo2000.ca> <budget.1@glo2000.ca>",
                  who + ": threading headers, folded and invalid ids "
                  "dropped")
        check(with_subject(data, "carol", "Re: Budget") == [],
              "carol not among them")

        # A long thread: References keeps the first and the latest ids,
        # within one line.
        refs = ["<thread.%02d.padding-padding@glo2000.ca>" % i
                for i in range(40)]
        raw = ("From: alice@glo2000.ca\nTo: erin@glo2000.ca\n"
               "Subject: Long\nDate: " +
               email.utils.formatdate(time.time() + 7200) +
               "\nMessage-ID: <long.1@glo2000.ca>\nReferences: " +
               "\n ".join(refs) + "\n\nx\n")
        name = "%d.M2P2Q2.other" % int(time.time() + 200)
        with open(os.path.join(data, "erin", "tmp", name), "w") as f:
            f.write(raw)
        os.rename(os.path.join(data, "erin", "tmp", name),
                  os.path.join(data, "erin", "new", name))
        r = run("erin", "reply", "1", stdin="ok\n")
        check(r.returncode == 0, "reply in a long thread: " + r.stderr)
        got = with_subject(data, "alice", "Re: Long")[0]["References"]
        ids = got.split(" ")
        check(len(got) <= 900 and ids[0] == refs[0] and
              ids[-2] == refs[-1] and ids[-1] == "<long.1@glo2000.ca>",
              "References: first, latest, own id, at most 900 bytes")

        # A reply to one's own sent message (in one's inbox) goes to its
        # recipients.
        check(run("dave", "send", "--to", "dave", "--subject", "Note",
                  stdin="self\n").returncode == 0, "dave notes to himself")

        # forward: Fwd: once, the original's headers and body quoted.
        r = run("bob", "forward", "2", "--to", "carol", "--to", "dave",
                stdin="FYI\n")
        check(r.returncode == 0, "bob forwards: " + r.stderr)
        for who in ("carol", "dave"):
            got = with_subject(data, who, "Fwd: Plan")
            check(len(got) == 1 and got[0]["To"] ==
                  "carol@glo2000.ca, dave@glo2000.ca",
                  who + " has the forward, one message to both")
        fwd = with_subject(data, "carol", "Fwd: Plan")[0].get_content()
        check(fwd.startswith("FYI\n"), "forward: the typed text first")
        check("From: alice@glo2000.ca" in fwd and "Shall we meet?" in fwd,
              "forward quotes the original's headers and body")
        check(with_subject(data, "carol", "Fwd: Plan")[0]["In-Reply-To"]
              is None, "a forward is not a reply")
        r = run("bob", "forward", "1", "--to", "nobody@example.com",
                stdin="x\n")
        check(r.returncode == 1 and "outside the local domain" in r.stderr,
              "forward to another domain refused")

        # vacation: on with an end, one reply per sender, off.
        r = run("dave", "vacation", "--on", "--subject", "Away",
                "--until", "2999-12-31", stdin="Back in January.\n")
        check(r.returncode == 0, "dave's vacation on: " + r.stderr)
        for i in range(2):
            check(run("carol", "send", "--to", "dave", "--subject",
                      "Q%d" % i, stdin="?\n").returncode == 0,
                  "carol writes to dave")
        got = with_subject(data, "carol", "Away")
        check(len(got) == 1, "one vacation reply for two messages")
        check(got[0]["Auto-Submitted"] == "auto-replied",
              "Auto-Submitted: auto-replied")
        check(got[0].get_content() == "Back in January.",
              "the vacation text")
        check(run("dave", "vacation", "--off").returncode == 0,
              "dave's vacation off")
        check(run("alice", "send", "--to", "dave", "--subject", "Later",
                  stdin="?\n").returncode == 0, "alice writes to dave")
        check(with_subject(data, "alice", "Away") == [], "off: no reply")
        r = run("dave", "vacation", "--on", "--subject", "x",
                "--until", "2001-01-01", stdin="x\n")
        check(r.returncode == 1 and "past" in r.stderr,
              "an end in the past is refused")
        r = run("dave", "vacation", "--on")
        check(r.returncode == 2, "vacation --on needs --subject")

        # Several recipients in one message: To: and Cc: as given, read
        # back by the email package; duplicates get one copy.
        r = run("alice", "send", "--to", "bob", "--to", "carol", "--cc",
                "dave", "--cc", "DAVE@glo2000.ca", "--subject", "Crowd",
                stdin="Hello all\n")
        check(r.returncode == 0 and r.stdout.splitlines() == [
            "delivered: bob@glo2000.ca", "delivered: carol@glo2000.ca",
            "delivered: dave@glo2000.ca"],
            "send-many: one line per distinct recipient: " + r.stdout)
        got = with_subject(data, "bob", "Crowd")
        check(len(got) == 1 and
              got[0]["To"] == "bob@glo2000.ca, carol@glo2000.ca" and
              got[0]["Cc"] == "dave@glo2000.ca, DAVE@glo2000.ca",
              "the stored To: and Cc: are as given")
        check(len(with_subject(data, "dave", "Crowd")) == 1,
              "dave has one copy")

        # reply and forward by stable id (from list --json).
        lines = run("dave", "--json", "list").stdout.splitlines()
        crowd = [json.loads(x) for x in lines
                 if json.loads(x)["subject"] == "Crowd"][0]
        r = run("dave", "reply", crowd["id"], stdin="By id.\n")
        check(r.returncode == 0 and
              r.stdout.strip() == "sent: alice@glo2000.ca",
              "reply by id: " + r.stdout + r.stderr)
        got = with_subject(data, "alice", "Re: Crowd")
        check(len(got) == 1 and got[0]["In-Reply-To"] ==
              with_subject(data, "dave", "Crowd")[0]["Message-ID"],
              "the reply by id threads on the original")
        r = run("dave", "forward", crowd["id"], "--to", "erin",
                stdin="FYI\n")
        check(r.returncode == 0 and
              len(with_subject(data, "erin", "Fwd: Crowd")) == 1,
              "forward by id")
        r = run("dave", "reply", "1.no.such.id", stdin="x\n")
        check(r.returncode == 1 and "no such message" in r.stderr,
              "reply to an unknown id refused")

        # Flags and deletes made with glomail, as Python's mailbox sees
        # them (Maildir info flags S and F).
        def flags_of(user, subject):
            box = mailbox.Maildir(os.path.join(data, user), factory=None,
                                  create=False)
            return [box.get_message(k).get_flags() for k in box.keys()
                    if box.get_message(k)["Subject"] == subject]
        check(run("bob", "mark", "1", "--flagged").returncode == 0 and
              run("bob", "read", "1").returncode == 0,
              "bob flags and reads message 1")
        first = json.loads(run("bob", "--json", "list").stdout
                           .splitlines()[0])
        check(flags_of("bob", first["subject"]) == ["FS"],
              "mailbox sees F and S")
        check(run("bob", "mark", first["id"], "--unseen",
                  "--unflagged").returncode == 0, "bob clears both")
        check(flags_of("bob", first["subject"]) == [""],
              "mailbox sees no flag")
        r = run("bob", "delete", first["id"])
        check(r.returncode == 0 and r.stdout == "deleted: 1\n",
              "bob deletes it")
        check(flags_of("bob", first["subject"]) == [],
              "mailbox no longer has it")

        # stats show the quota.
        r = run("dave", "stats")
        check("quota_used: " in r.stdout and "quota_limit: 0" in r.stdout,
              "stats shows usage and limit")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if os.environ.get("GLOMAIL_KEEP_TEST_DIR") is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept " + work)


if __name__ == "__main__":
    main()
