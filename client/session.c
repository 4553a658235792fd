/*
 * session.c - the client's connection: connect, one request and its
 * reply at a time, BYE on the way out.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "i18n.h"
#include "proto.h"
#include "session.h"
#include "wire.h"

/*
 * Replies may be larger than requests: a mailbox list grows with the
 * mailbox. The server never sends more than FRAME_REPLY_MAX.
 */
#define SESSION_REPLY_MAX FRAME_REPLY_MAX

struct session {
	int fd;
	int lost;
};

int
session_open(const char *host, const char *port, int timeout,
    struct session **session_r)
{
	struct timeval tv = { timeout, 0 };
	struct session *s;
	char err[512];
	int fd;

	if ((fd = wire_connect(host, port, err, sizeof(err))) == -1) {
		fprintf(stderr, "glomail: %s: %s\n",
		    _("cannot connect to the server"), err);
		return -1;
	}
	if (timeout > 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)) {
		fprintf(stderr, "glomail: setsockopt: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		fprintf(stderr, "glomail: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	s->fd = fd;
	*session_r = s;
	return 0;
}

/* Mark the session dead and say why, once. */
static void
session_fail(struct session *s, const char *why)
{
	if (!s->lost)
		fprintf(stderr, "glomail: %s: %s\n",
		    _("connection to the server lost"), why);
	s->lost = 1;
}

/* Encode and write one message. payload is stolen. */
static int
session_send(struct session *s, int header, json_t *payload)
{
	unsigned char *frame;
	size_t len;
	int rc;

	if (s->lost) {
		json_decref(payload);
		return -1;
	}
	/* A request too big to send is the user's problem, not the link's. */
	if (msg_encode(header, payload, FRAME_MAX_DEFAULT, &frame,
	    &len) == -1) {
		fprintf(stderr, "glomail: %s\n",
		    _("the message is too large to send"));
		return -1;
	}
	rc = wire_write_all(s->fd, frame, len);
	free(frame);
	if (rc == -1)
		session_fail(s, strerror(errno));
	return rc;
}

/*
 * Drop frames nobody asked for before a request. Some seed servers answer
 * AUTH_LOGOUT although the protocol says not to; left unread, that OK
 * would be taken for the reply to the next request. A server that closed
 * the connection meanwhile is noticed here too.
 */
static int
session_drain(struct session *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct msg *stale;
	const char *why;

	while (poll(&pfd, 1, 0) == 1) {
		if (wire_recv(s->fd, SESSION_REPLY_MAX, &stale, &why) == -1) {
			session_fail(s, strcmp(why, "connection closed") == 0 ?
			    _("the server closed the connection") : why);
			return -1;
		}
		msg_free(stale);
	}
	return 0;
}

int
session_request(struct session *s, int header, json_t *payload,
    struct msg **reply_r)
{
	const char *why;

	if (!s->lost && session_drain(s) == -1) {
		json_decref(payload);
		return -1;
	}
	if (session_send(s, header, payload) == -1)
		return -1;
	errno = 0;
	if (wire_recv(s->fd, SESSION_REPLY_MAX, reply_r, &why) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			why = _("no reply in time");
		else if (strcmp(why, "connection closed") == 0)
			why = _("the server closed the connection");
		else if (strcmp(why, "read error") == 0 && errno != 0)
			why = strerror(errno);
		session_fail(s, why);
		return -1;
	}
	/* Every request of the protocol is answered by OK or ERROR. */
	if (msg_header(*reply_r) != PROTO_OK &&
	    msg_header(*reply_r) != PROTO_ERROR) {
		msg_free(*reply_r);
		*reply_r = NULL;
		session_fail(s, _("unexpected reply from the server"));
		return -1;
	}
	return (int)msg_header(*reply_r);
}

int
session_notify(struct session *s, int header)
{
	return session_send(s, header, NULL);
}

int
session_lost(const struct session *s)
{
	return s->lost;
}

void
session_close(struct session *s)
{
	unsigned char *frame;
	size_t len;

	if (s == NULL)
		return;
	/*
	 * BYE has no reply, and a server that is already gone changes
	 * nothing for a client on its way out: write errors are ignored.
	 */
	if (!s->lost &&
	    msg_encode(PROTO_BYE, NULL, FRAME_MAX_DEFAULT, &frame, &len) == 0) {
		(void)wire_write_all(s->fd, frame, len);
		free(frame);
	}
	close(s->fd);
	free(s);
}

const char *
session_error_text(const struct msg *reply)
{
	union msg_args a;
	const char *why;

	if (msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why) == -1)
		return _("the server refused the request");
	return i18n_server_text(a.error_message);
}
