#!/usr/bin/env python3
"""A server in the style of the original assignment's (Python sockets,
4-byte big-endian length + json.dumps, headers 1-10 only), for testing
glomail against a peer that knows no extension.

As the seed servers do, it answers an unknown header with ERROR, stores
the sender and date a client sends as they are (so a client's sender
domain is visible), and keeps everything in memory.

usage: seed_server.py     (prints the port it bound on 127.0.0.1, then serves
                           until killed)
"""
import hashlib
import json
import re
import socketserver
import struct
import sys
import threading

DOMAIN = "glo2000.ca"
OK, ERROR, BYE = 1, 2, 3
REGISTER, LOGIN, LOGOUT = 4, 5, 6
LIST, CHOICE, SEND, STATS = 7, 8, 9, 10

lock = threading.Lock()
users = {}   # lower-case name -> sha3-512 hex, as the seed stores it
boxes = {}   # lower-case name -> list of emails, oldest first
lost = []


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_mesg(sock):
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (length,) = struct.unpack("!I", head)
    body = recv_exact(sock, length)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def send_mesg(sock, header, payload=None):
    msg = {"header": header}
    if payload is not None:
        msg["payload"] = payload
    data = json.dumps(msg).encode("utf-8")
    sock.sendall(struct.pack("!I", len(data)) + data)


def error(text):
    return ERROR, {"error_message": text}


def password_ok(pw):
    return (len(pw) >= 10 and re.search(r"[0-9]", pw) and
            re.search(r"[a-z]", pw) and re.search(r"[A-Z]", pw))


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.user = None
        self.view = []
        while True:
            msg = recv_mesg(self.request)
            if msg is None or msg.get("header") == BYE:
                return
            reply = self.answer(msg.get("header"), msg.get("payload") or {})
            if reply is not None:
                send_mesg(self.request, *reply)

    def answer(self, header, p):
        with lock:
            if header in (REGISTER, LOGIN):
                name = str(p.get("username", "")).lower()
                digest = hashlib.sha3_512(
                    str(p.get("password", "")).encode()).hexdigest()
                if header == REGISTER:
                    if not re.fullmatch(r"[a-z0-9_.-]+", name):
                        return error("Nom d'utilisateur invalide")
                    if name in users:
                        return error("Ce nom est pris")
                    if not password_ok(str(p.get("password", ""))):
                        return error("Mot de passe trop faible")
                    users[name] = digest
                    boxes[name] = []
                elif users.get(name) != digest:
                    return error("Nom d'utilisateur ou mot de passe invalide")
                self.user = name
                return OK, None
            if header not in (LOGOUT, LIST, CHOICE, SEND, STATS):
                return error("En-tete inconnu")
            if self.user is None:
                return None if header == LOGOUT else error("Non connecte")
            if header == LOGOUT:
                self.user = None
                return None
            box = boxes[self.user]
            if header == LIST:
                self.view = list(reversed(box))
                return OK, {"email_list": [
                    "#%d %s - %s %s" % (i + 1, e["sender"], e["subject"],
                                        e["date"])
                    for i, e in enumerate(self.view)]}
            if header == CHOICE:
                n = int(p.get("choice", 0))
                if not 1 <= n <= len(self.view):
                    return error("Choix invalide")
                return OK, self.view[n - 1]
            if header == STATS:
                size = sum(len(json.dumps(e)) for e in box)
                return OK, {"count": len(box), "size": size}
            email = {k: p.get(k) for k in ("sender", "destination",
                                           "subject", "date", "content")}
            user, _, domain = str(email["destination"]).partition("@")
            if domain.lower() != DOMAIN:
                return error("Destinataire externe")
            if user.lower() not in users:
                lost.append(email)
                return error("Destinataire inexistant")
            boxes[user.lower()].append(email)
            return OK, None


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
