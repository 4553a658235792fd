/*
 * wire.h - blocking socket helpers for the client, the benchmark and the
 * tests: connect, send one message, receive exactly one message.
 */
#ifndef GLOMAIL_WIRE_H
#define GLOMAIL_WIRE_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "msg.h"

/*
 * Connect over TCP to host:port (names, IPv4 or IPv6). Returns a socket, or
 * -1 with a short reason in err.
 */
int wire_connect(const char *host, const char *port, char *err, size_t errlen);

/*
 * Connect to a Unix stream socket (glomailctl to the control socket).
 * Returns a socket, or -1 with errno and a short reason in err.
 */
int wire_connect_unix(const char *path, char *err, size_t errlen);

/* Write all of buf, retrying on EINTR; no SIGPIPE. Returns 0 or -1. */
int wire_write_all(int fd, const void *buf, size_t len);

/* Encode and send one message; payload is stolen (may be NULL). */
int wire_send(int fd, int header, json_t *payload, size_t max);

/*
 * Read exactly one frame and parse it. Returns 0, or -1 with *why_r set
 * ("connection closed", "frame too large", a read error or a parse reason).
 */
int wire_recv(int fd, size_t max, struct msg **msg_r, const char **why_r);

/*
 * A client's connection to a server, plaintext or TLS: what glomail and
 * glomailctl talk through. TLS verifies the server's certificate against
 * the system's authorities or cafile, and its name (DNS name or IP address)
 * against servername or the host connected to; there is no way to skip the
 * verification and no fallback to plaintext.
 */
struct wire;

struct wire_tls {
	const char *cafile;     /* NULL: the system's authorities */
	const char *servername; /* NULL: the host connected to */
};

/*
 * Connect to host:port; with tls set, complete a verified handshake. The
 * timeout (seconds, 0: none) bounds each read and write. NULL with a short
 * reason in err (for TLS, OpenSSL's verification error text, such as
 * "certificate has expired" or "hostname mismatch").
 */
struct wire *wire_open(const char *host, const char *port,
    const struct wire_tls *tls, int timeout, char *err, size_t errlen);

/* Write all of buf. 0 or -1. */
int wire_write(struct wire *w, const void *buf, size_t len);

/* Read what has arrived, at most len bytes: recv(2)'s contract. */
ssize_t wire_read_some(struct wire *w, void *buf, size_t len);

/* Send nothing more (shutdown(2), or close_notify under TLS); reading
 * goes on. 0 or -1. */
int wire_shutdown_write(struct wire *w);

/* Read exactly one frame and parse it (as wire_recv). */
int wire_read_msg(struct wire *w, size_t max, struct msg **msg_r,
    const char **why_r);

/* The socket, for poll(2). With TLS, wire_pending says whether bytes are
 * already decrypted and waiting. */
int wire_fd(const struct wire *w);
int wire_pending(const struct wire *w);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" for plaintext. */
const char *wire_describe(const struct wire *w);

/* Say goodbye to TLS (close_notify), close the socket, free. */
void wire_close(struct wire *w);

#endif
