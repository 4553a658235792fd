/*
 * wire.h - blocking socket helpers for the client, the benchmark and the
 * tests: connect, send one message, receive exactly one message.
 */
#ifndef GLOMAIL_WIRE_H
#define GLOMAIL_WIRE_H

#include <stddef.h>

#include <jansson.h>

#include "msg.h"

/*
 * Connect over TCP to host:port (names, IPv4 or IPv6). Returns a socket, or
 * -1 with a short reason in err.
 */
int wire_connect(const char *host, const char *port, char *err, size_t errlen);

/* Write all of buf, retrying on EINTR; no SIGPIPE. Returns 0 or -1. */
int wire_write_all(int fd, const void *buf, size_t len);

/* Encode and send one message; payload is stolen (may be NULL). */
int wire_send(int fd, int header, json_t *payload, size_t max);

/*
 * Read exactly one frame and parse it. Returns 0, or -1 with *why_r set
 * ("connection closed", "frame too large", a read error or a parse reason).
 */
int wire_recv(int fd, size_t max, struct msg **msg_r, const char **why_r);

#endif
