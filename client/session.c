/*
 * session.c - the client's connection: connect, one request and its
 * reply at a time, BYE on the way out.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "i18n.h"
#include "proto.h"
#include "rules.h"
#include "session.h"
#include "wire.h"

/*
 * Replies may be larger than requests: a mailbox list grows with the
 * mailbox. The server never sends more than FRAME_REPLY_MAX.
 */
#define SESSION_REPLY_MAX FRAME_REPLY_MAX

/* A reply slower than this gets a "please wait" (see session_set_notice). */
#define SESSION_PATIENCE_MS 1000

/* A DNS name's length bounds the domain a server may announce. */
#define SESSION_DOMAIN_MAX 253

/* Notices kept between two looks (a menu shows them between screens). */
#define SESSION_NOTICES_MAX 64

/* The most recipients the client puts in one EMAIL_SENDING_MANY. */
#define SESSION_MANY_MAX 1000

struct session {
	struct wire *w; /* the socket, plaintext or TLS */
	int lost;
	FILE *notice;
	int extended; /* the server answered CAPABILITIES */
	char domain[SESSION_DOMAIN_MAX + 1];
	size_t max_frame;
	size_t max_subject;
	size_t max_recipients;
	size_t max_recipients_many; /* EMAIL_SENDING_MANY's, 0 without it */
	json_t *extensions;         /* array of names, or NULL */
	/* New-mail notices that came while a reply was awaited, oldest
	 * first: a ring, the oldest dropped when it is full. */
	struct msg *notices[SESSION_NOTICES_MAX];
	size_t notice_first, notice_count;
};

static int session_learn(struct session *s);
static int session_read(struct session *s, struct msg **m_r);
static void session_keep(struct session *s, struct msg *m);

int
session_open(const char *host, const char *port, const struct wire_tls *tls,
    int timeout, struct session **session_r)
{
	struct session *s;
	struct wire *w;
	char err[512];

	/* With TLS, a certificate that does not verify ends it here: there
	 * is no falling back to plaintext. */
	if ((w = wire_open(host, port, tls, timeout, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "glomail: %s: %s\n",
		    _("cannot connect to the server"), err);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		fprintf(stderr, "glomail: %s\n", strerror(errno));
		wire_close(w);
		return -1;
	}
	s->w = w;
	if (session_learn(s) == -1) {
		wire_close(w);
		free(s);
		return -1;
	}
	*session_r = s;
	return 0;
}

/* A domain fit to build addresses with and to show: a DNS name. */
static int
domain_ok(const char *d)
{
	size_t n = strlen(d), i;

	if (n == 0 || n > SESSION_DOMAIN_MAX || d[0] == '.' || d[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		        (d[i] >= 'A' && d[i] <= 'Z') ||
		        (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		        d[i] == '.'))
			return 0;
	return 1;
}

/*
 * Ask CAPABILITIES once. ERROR (a seed server: unknown header) or a reply
 * without the fields leaves the seed's values; only a lost connection
 * fails. Unknown fields are ignored: later servers may add some.
 */
static int
session_learn(struct session *s)
{
	json_int_t frame, subject, rcpts;
	struct msg *reply = NULL;
	json_t *p, *ext = NULL, *many;
	const char *domain;
	int h;

	snprintf(s->domain, sizeof(s->domain), "%s", PROTO_DEFAULT_DOMAIN);
	s->max_frame = FRAME_MAX_DEFAULT;
	s->max_subject = RULES_SUBJECT_MAX;
	s->max_recipients = 1;
	if ((h = session_request(s, PROTO_CAPABILITIES, NULL, &reply)) == -1)
		return -1;
	p = h == PROTO_OK ? msg_payload(reply) : NULL;
	if (p != NULL &&
	    json_unpack(p, "{s:s, s:{s:I, s:I, s:I}, s?o}", "domain", &domain,
	        "limits", "max_frame", &frame, "max_subject", &subject,
	        "max_recipients", &rcpts, "extensions", &ext) == 0 &&
	    domain_ok(domain) && frame > 0 && subject > 0 && rcpts > 0 &&
	    (ext == NULL || json_is_array(ext))) {
		s->extended = 1;
		snprintf(s->domain, sizeof(s->domain), "%s", domain);
		/* What the client itself can hold bounds what it sends. */
		s->max_frame = frame < (json_int_t)SESSION_REPLY_MAX
		                   ? (size_t)frame
		                   : SESSION_REPLY_MAX;
		s->max_subject = (size_t)subject;
		s->max_recipients = rcpts < 1024 ? (size_t)rcpts : 1024;
		s->extensions = ext != NULL ? json_incref(ext) : NULL;
		/* Sending to several needs a count to check them against. */
		many = json_object_get(json_object_get(p, "limits"),
		    "max_recipients_many");
		if (session_has(s, "send-many"))
			s->max_recipients_many = !json_is_integer(many) ? 100
			                         : json_integer_value(many) < 1
			                             ? 1
			                         : json_integer_value(many) >
			                                 SESSION_MANY_MAX
			                             ? SESSION_MANY_MAX
			                             : (size_t)
			                                   json_integer_value(
			                                       many);
	}
	msg_free(reply);
	return 0;
}

void
session_set_notice(struct session *s, FILE *out)
{
	s->notice = out;
}

const char *
session_domain(const struct session *s)
{
	return s->domain;
}

size_t
session_max_frame(const struct session *s)
{
	return s->max_frame;
}

size_t
session_max_subject(const struct session *s)
{
	return s->max_subject;
}

size_t
session_max_recipients(const struct session *s)
{
	return s->max_recipients;
}

size_t
session_max_recipients_many(const struct session *s)
{
	return s->max_recipients_many;
}

int
session_extended(const struct session *s)
{
	return s->extended;
}

int
session_has(const struct session *s, const char *name)
{
	json_t *item;
	size_t i;

	json_array_foreach (s->extensions, i, item)
		if (json_is_string(item) &&
		    strcmp(json_string_value(item), name) == 0)
			return 1;
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
	if (msg_encode(header, payload, s->max_frame, &frame, &len) == -1) {
		fprintf(stderr, "glomail: %s\n",
		    _("the message is too large to send"));
		return -1;
	}
	rc = wire_write(s->w, frame, len);
	free(frame);
	if (rc == -1)
		session_fail(s, strerror(errno));
	return rc;
}

/*
 * Wait up to SESSION_PATIENCE_MS for the reply to start; past that, say
 * once that the server is holding it back (glomaild delays logins after
 * failures), then let the read wait as usual.
 */
static void
session_patience(struct session *s)
{
	struct pollfd pfd = { .fd = wire_fd(s->w), .events = POLLIN };
	int r;

	if (s->notice == NULL || wire_pending(s->w))
		return;
	while ((r = poll(&pfd, 1, SESSION_PATIENCE_MS)) == -1 && errno == EINTR)
		;
	if (r == 0) {
		fprintf(s->notice, "%s\n",
		    _("Please wait: the server has not answered yet..."));
		fflush(s->notice);
	}
}

/*
 * A frame that is not a reply: a new-mail notice is queued for
 * session_notice_take (the oldest dropped when the queue is full),
 * anything else dropped.
 */
static void
session_keep(struct session *s, struct msg *m)
{
	size_t i;

	if (msg_header(m) != PROTO_NEW_MAIL) {
		msg_free(m);
		return;
	}
	if (s->notice_count == SESSION_NOTICES_MAX) {
		msg_free(s->notices[s->notice_first]);
		s->notice_first = (s->notice_first + 1) % SESSION_NOTICES_MAX;
		s->notice_count--;
	}
	i = (s->notice_first + s->notice_count) % SESSION_NOTICES_MAX;
	s->notices[i] = m;
	s->notice_count++;
}

/*
 * Drop frames nobody asked for before a request (notices are kept). Some seed
 * servers answer AUTH_LOGOUT although the protocol says not to; left unread,
 * that OK would be taken for the reply to the next request. A server that
 * closed the connection meanwhile is noticed here too.
 */
static int
session_drain(struct session *s)
{
	struct pollfd pfd = { .fd = wire_fd(s->w), .events = POLLIN };
	struct msg *stale;
	const char *why;

	/* Under TLS, bytes may already be decrypted and waiting. */
	while (wire_pending(s->w) || poll(&pfd, 1, 0) == 1) {
		if (wire_read_msg(s->w, SESSION_REPLY_MAX, &stale, &why) ==
		    -1) {
			session_fail(s,
			    strcmp(why, "connection closed") == 0
			        ? _("the server closed the connection")
			        : why);
			return -1;
		}
		session_keep(s, stale);
	}
	return 0;
}

/* Read one frame; on failure the session is lost (reason printed). */
static int
session_read(struct session *s, struct msg **m_r)
{
	const char *why;

	errno = 0;
	if (wire_read_msg(s->w, SESSION_REPLY_MAX, m_r, &why) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			why = _("no reply in time");
		else if (strcmp(why, "connection closed") == 0)
			why = _("the server closed the connection");
		else if (strcmp(why, "read error") == 0 && errno != 0)
			why = strerror(errno);
		session_fail(s, why);
		return -1;
	}
	return 0;
}

int
session_request(struct session *s, int header, json_t *payload,
    struct msg **reply_r)
{
	if (!s->lost && session_drain(s) == -1) {
		json_decref(payload);
		return -1;
	}
	if (session_send(s, header, payload) == -1)
		return -1;
	session_patience(s);
	/* A subscriber's notices may come before the reply: kept aside. */
	do {
		if (session_read(s, reply_r) == -1)
			return -1;
		if (msg_header(*reply_r) == PROTO_NEW_MAIL) {
			session_keep(s, *reply_r);
			*reply_r = NULL;
		}
	} while (*reply_r == NULL);
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

struct msg *
session_notice_take(struct session *s)
{
	struct msg *m;

	if (s->notice_count == 0)
		return NULL;
	m = s->notices[s->notice_first];
	s->notices[s->notice_first] = NULL;
	s->notice_first = (s->notice_first + 1) % SESSION_NOTICES_MAX;
	s->notice_count--;
	return m;
}

int
session_notice_wait(struct session *s, int timeout_ms, const sigset_t *mask,
    struct msg **notice_r)
{
	struct pollfd pfd = { .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	struct msg *m;
	int r;

	*notice_r = NULL;
	if ((*notice_r = session_notice_take(s)) != NULL)
		return 1;
	if (s->lost)
		return -1;
	pfd.fd = wire_fd(s->w);
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	/* Under TLS, bytes may already be decrypted and waiting. */
	if (!wire_pending(s->w)) {
		r = ppoll(&pfd, 1, tsp, mask);
		if (r == -1)
			return errno == EINTR ? 0 : -1;
		if (r == 0)
			return 0;
	}
	if (session_read(s, &m) == -1)
		return -1;
	session_keep(s, m);
	*notice_r = session_notice_take(s);
	return *notice_r != NULL;
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
	struct msg *m;
	size_t len;

	if (s == NULL)
		return;
	/*
	 * BYE has no reply, and a server that is already gone changes
	 * nothing for a client on its way out: write errors are ignored.
	 */
	if (!s->lost &&
	    msg_encode(PROTO_BYE, NULL, FRAME_MAX_DEFAULT, &frame, &len) == 0) {
		(void)wire_write(s->w, frame, len);
		free(frame);
	}
	wire_close(s->w);
	json_decref(s->extensions);
	while ((m = session_notice_take(s)) != NULL)
		msg_free(m);
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
