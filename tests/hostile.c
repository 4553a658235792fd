/*
 * hostile.c - raw socket helpers for the hardening tests (see hostile.h).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "hostile.h"
#include "wire.h"

/* Replies in these tests are small, but an inbox list may be long. */
#define HOSTILE_REPLY_MAX ((size_t)16 << 20)

long long
hostile_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hostile_connect_from(const struct testsrv *s, const char *from)
{
	struct sockaddr_in local, remote;
	struct timeval tv = { 30, 0 };
	int fd;

	memset(&local, 0, sizeof(local));
	memset(&remote, 0, sizeof(remote));
	local.sin_family = remote.sin_family = AF_INET;
	remote.sin_port = htons((unsigned short)atoi(s->port));
	if (inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
	    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) == -1 ||
	    connect(fd, (struct sockaddr *)&remote, sizeof(remote)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One write for header and body: two would meet Nagle and delayed ACKs. */
int
hostile_send_frame(int fd, const void *body, size_t len)
{
	unsigned char *frame;
	size_t flen;
	int rc;

	if (frame_encode(body, len, FRAME_MAX_LIMIT, &frame, &flen) == -1)
		return -1;
	rc = wire_write_all(fd, frame, flen);
	free(frame);
	return rc;
}

int
hostile_send_json(int fd, const char *json)
{
	return hostile_send_frame(fd, json, strlen(json));
}

/* Read exactly len bytes before the deadline: 1, 0 (closed), -1 (time out). */
static int
read_full(int fd, unsigned char *buf, size_t len, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;
	long long left;

	while (got < len) {
		left = deadline - hostile_now_ms();
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf + got, len - got, 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 0;
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return 0;
		}
		got += (size_t)n;
	}
	return 1;
}

enum hostile_got
hostile_recv(int fd, int timeout_ms, struct msg **msg_r)
{
	long long deadline = hostile_now_ms() + timeout_ms;
	unsigned char hdr[FRAME_HEADER_LEN], *body;
	const char *why;
	size_t len;
	int rc;

	if ((rc = read_full(fd, hdr, sizeof(hdr), deadline)) != 1)
		return rc == 0 ? HOSTILE_CLOSED : HOSTILE_NOTHING;
	if (frame_decode(hdr, sizeof(hdr), HOSTILE_REPLY_MAX, &len) ==
	    FRAME_TOO_BIG)
		return HOSTILE_GARBAGE;
	if ((body = malloc(len + 1)) == NULL)
		return HOSTILE_GARBAGE;
	/* The header came, so the body follows at once: a long wait is a bug.
	 */
	if ((rc = read_full(fd, body, len, deadline + 30000)) != 1) {
		free(body);
		return HOSTILE_GARBAGE;
	}
	rc = msg_parse(body, len, msg_r, &why);
	free(body);
	return rc == 0 ? HOSTILE_FRAME : HOSTILE_GARBAGE;
}

int
hostile_reply(int fd, int timeout_ms, char *text, size_t textlen)
{
	struct msg *m = NULL;
	union msg_args a;
	const char *why;
	int h;

	if (text != NULL && textlen > 0)
		text[0] = '\0';
	switch (hostile_recv(fd, timeout_ms, &m)) {
	case HOSTILE_FRAME:
		break;
	case HOSTILE_CLOSED:
		return -1;
	case HOSTILE_NOTHING:
		return -2;
	case HOSTILE_GARBAGE:
		return -3;
	}
	h = (int)msg_header(m);
	if (h == PROTO_ERROR && text != NULL &&
	    msg_unpack(m, PROTO_SHAPE_ERROR, &a, &why) == 0)
		snprintf(text, textlen, "%s", a.error_message);
	msg_free(m);
	return h;
}

int
hostile_closed(int fd, int timeout_ms)
{
	return hostile_reply(fd, timeout_ms, NULL, 0) == -1;
}

int
hostile_user(const struct testsrv *s, const char *user)
{
	return testsrv_user(s, user, HOSTILE_PASSWORD);
}

long
hostile_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

long
hostile_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	        &utime, &stime) != 2 ||
	    hz <= 0)
		return -1;
	return (long)((utime + stime) * 1000 / (unsigned long)hz);
}
