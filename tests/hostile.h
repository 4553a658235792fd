/*
 * hostile.h - raw socket helpers shared by the hardening tests: frames sent
 * byte for byte, replies read with a deadline, connections from a chosen
 * loopback address, and a look at what the server process holds.
 */
#ifndef GLOMAIL_HOSTILE_H
#define GLOMAIL_HOSTILE_H

#include <sys/types.h>

#include <stddef.h>

#include "msg.h"
#include "testsrv.h"

#define HOSTILE_PASSWORD "Hostile0Passw"

/* Connect to the server from a given loopback address ("127.0.0.2"). */
int hostile_connect_from(const struct testsrv *s, const char *from);

/* Send body as one frame (length prefix added). 0 or -1. */
int hostile_send_frame(int fd, const void *body, size_t len);

/* Send a JSON text as one frame. 0 or -1. */
int hostile_send_json(int fd, const char *json);

enum hostile_got {
	HOSTILE_FRAME,   /* a whole frame arrived: *msg_r is set */
	HOSTILE_CLOSED,  /* end of stream (or reset) */
	HOSTILE_NOTHING, /* nothing within the deadline */
	HOSTILE_GARBAGE, /* bytes that are not a valid reply frame */
};

/* Read one reply frame within timeout_ms. */
enum hostile_got hostile_recv(int fd, int timeout_ms, struct msg **msg_r);

/*
 * Read one reply: the header (1 OK, 2 ERROR...), or -1 for a close, -2 for
 * nothing within timeout_ms, -3 for garbage. The error text, if any, is
 * copied into text.
 */
int hostile_reply(int fd, int timeout_ms, char *text, size_t textlen);

/* 1 when the peer closes within timeout_ms (no frame before it). */
int hostile_closed(int fd, int timeout_ms);

/* Register or log in user on a new connection; the socket, or -1. */
int hostile_user(const struct testsrv *s, const char *user);

/* Resident memory of a process, in KiB (VmRSS), or -1. */
long hostile_rss_kib(pid_t pid);

/* CPU time used by a process so far, in milliseconds, or -1. */
long hostile_cpu_ms(pid_t pid);

/* Milliseconds of a monotonic clock. */
long long hostile_now_ms(void);

#endif
