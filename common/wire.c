/*
 * wire.c - blocking frame I/O over a socket.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "wire.h"

/*
 * With nobody listening on a port of the ephemeral range, the kernel can
 * give a connecting socket that very port, and TCP's simultaneous open then
 * connects the socket to itself: it would read its own requests as replies
 * and keep the port from a server restarting on it. Such a connection is a
 * refusal.
 */
static int
self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);

	if (getsockname(fd, (struct sockaddr *)&a, &alen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&b, &blen) == -1)
		return 0;
	if (alen != blen || memcmp(&a, &b, alen) != 0)
		return 0;
	errno = ECONNREFUSED;
	return 1;
}

int
wire_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    !self_connected(fd))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s port %s: %s", host, port,
		    strerror(saved));
	return fd;
}

int
wire_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
wire_send(int fd, int header, json_t *payload, size_t max)
{
	unsigned char *frame;
	size_t len;
	int rc;

	if (msg_encode(header, payload, max, &frame, &len) == -1)
		return -1;
	rc = wire_write_all(fd, frame, len);
	free(frame);
	return rc;
}

/* Read exactly len bytes. Returns 1, 0 on a clean EOF before any byte, -1. */
static int
read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, p + got, len - got, 0);
		if (n == 0)
			return got == 0 ? 0 : -1;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

int
wire_recv(int fd, size_t max, struct msg **msg_r, const char **why_r)
{
	unsigned char hdr[FRAME_HEADER_LEN];
	size_t len;
	char *body = NULL;
	int rc;

	if ((rc = read_exact(fd, hdr, sizeof(hdr))) != 1) {
		*why_r = rc == 0 || errno == ECONNRESET ? "connection closed" :
		    "read error";
		return -1;
	}
	if (frame_decode(hdr, sizeof(hdr), max, &len) == FRAME_TOO_BIG) {
		*why_r = "frame too large";
		return -1;
	}
	if ((body = malloc(len > 0 ? len : 1)) == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	if (len > 0 && read_exact(fd, body, len) != 1) {
		*why_r = "connection closed";
		goto fail;
	}
	if (msg_parse(body, len, msg_r, why_r) == -1)
		goto fail;
	free(body);
	return 0;
fail:
	free(body);
	return -1;
}
