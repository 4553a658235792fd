/*
 * conn.c - connection lifecycle on a libevent bufferevent.
 *
 * Input is decoded frame by frame straight from the bufferevent's input
 * buffer; every whole frame that has arrived is dispatched in order. Reading
 * stops while a request's work is on a pool (the next request waits for the
 * reply), while too much output is queued (backpressure), and once input
 * holds a whole maximum frame: what a peer can make the server hold is
 * bounded by max-frame and max-output.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conn.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "server.h"
#include "session.h"

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct conn *prev, *next;   /* server's list of live connections */
	unsigned long long id;
	unsigned refs;              /* 1 while alive + 1 per hold/processing */
	unsigned holds;             /* work in flight: requests wait */
	int dead;
	int closing;                /* close once output is flushed */
	int paused;                 /* output over max-output */
	int eof;                    /* peer finished sending */
	int processing;
	int authenticated;          /* chooses the read timeout */
	struct timeval partial_since; /* a frame began and is not complete */
	struct session session;
	char peer[64];
	char addr[INET6_ADDRSTRLEN]; /* peer address without the port */
};

static void conn_process(struct conn *c);

unsigned long long
conn_id(const struct conn *c)
{
	return c->id;
}

struct server *
conn_server(const struct conn *c)
{
	return c->srv;
}

struct session *
conn_session(struct conn *c)
{
	return &c->session;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

const char *
conn_addr(const struct conn *c)
{
	return c->addr;
}

int
conn_alive(const struct conn *c)
{
	return !c->dead;
}

static void
conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		free(c);
}

/*
 * The read timeout measures the client's silence, so it only runs while the
 * server is not working on one of its requests: a login delayed by a penalty
 * or a slow hash must not be cut as idle. Re-arming it when the reply goes
 * out gives the client a whole period again.
 */
static void
set_timeouts(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	struct timeval rd = { c->authenticated ? cfg->timeout_idle :
		cfg->timeout_login, 0 };
	struct timeval wr = { cfg->timeout_idle, 0 };

	bufferevent_set_timeouts(c->bev, c->holds > 0 ? NULL : &rd, &wr);
}

void
conn_set_authenticated(struct conn *c, int authenticated)
{
	c->authenticated = authenticated;
	if (!c->dead)
		set_timeouts(c);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->dead)
		return;
	c->dead = 1;
	log_write(LOG_LEVEL_INFO, c->id, "close reason=\"%s\"%s%s", reason,
	    c->session.user[0] != '\0' ? " user=" : "", c->session.user);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	bufferevent_free(c->bev); /* closes the socket */
	c->bev = NULL;
	session_logout(&c->session);
	server_conn_gone(c->srv);
	conn_unref(c);
}

static void
maybe_finish_close(struct conn *c)
{
	if (!c->dead && c->closing && c->holds == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, c->eof ? "end of input" : "closed after reply");
}

void
conn_close_after_reply(struct conn *c)
{
	if (c->dead)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	maybe_finish_close(c);
}

void
conn_send_frame(struct conn *c, const unsigned char *frame, size_t len)
{
	if (c->dead)
		return;
	if (bufferevent_write(c->bev, frame, len) == -1)
		conn_close(c, "out of memory queueing a reply");
}

void
conn_reply(struct conn *c, int header, json_t *payload)
{
	unsigned char *frame;
	size_t len;

	if (c->dead) {
		json_decref(payload);
		return;
	}
	/* Replies are bounded by the protocol's 32-bit length, not max-frame:
	 * a long inbox list must still reach the client. */
	if (msg_encode(header, payload, FRAME_MAX_LIMIT, &frame, &len) == -1) {
		log_write(LOG_LEVEL_ERROR, c->id, "cannot encode a %s reply",
		    proto_name(header));
		conn_close(c, "reply encoding failed");
		return;
	}
	conn_send_frame(c, frame, len);
	free(frame);
}

void
conn_reply_error(struct conn *c, const char *text)
{
	conn_reply(c, PROTO_ERROR, msg_error_new(text));
}

void
conn_hold(struct conn *c)
{
	c->holds++;
	c->refs++;
	if (c->holds == 1 && !c->dead)
		set_timeouts(c);
}

void
conn_release(struct conn *c)
{
	c->holds--;
	if (!c->dead && c->holds == 0) {
		set_timeouts(c);
		if (c->closing)
			maybe_finish_close(c);
		else
			conn_process(c);
	}
	conn_unref(c);
}

/*
 * The read timeout restarts with every byte, so a peer dripping a frame one
 * byte at a time would never meet it: a frame must also be complete within
 * one timeout period of its first byte. Checked whenever input is waited
 * for; a peer that stops dripping meets the read timeout instead.
 */
static void
frame_deadline(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	struct timeval now, elapsed;
	unsigned limit = c->authenticated ? cfg->timeout_idle :
	    cfg->timeout_login;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
		evutil_timerclear(&c->partial_since);
		return;
	}
	event_base_gettimeofday_cached(c->srv->base, &now);
	if (!evutil_timerisset(&c->partial_since)) {
		c->partial_since = now;
		return;
	}
	evutil_timersub(&now, &c->partial_since, &elapsed);
	if (elapsed.tv_sec >= (time_t)limit)
		conn_close(c, "frame not completed in time");
}

/*
 * Dispatch every whole frame in the input buffer, in order, until one needs
 * work off the reactor, output is over its bound, or the input runs dry.
 */
static void
conn_process(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	struct evbuffer *in, *out;
	const unsigned char *p;
	size_t avail, body_len = 0;

	if (c->processing)
		return; /* a handler replied synchronously; the loop continues */
	c->processing = 1;
	c->refs++;
	while (!c->dead && !c->closing && c->holds == 0) {
		in = bufferevent_get_input(c->bev);
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) >= cfg->max_output) {
			c->paused = 1;
			break;
		}
		avail = evbuffer_get_length(in);
		if (avail < FRAME_HEADER_LEN)
			break;
		p = evbuffer_pullup(in, FRAME_HEADER_LEN);
		switch (frame_decode(p, avail, cfg->max_frame, &body_len)) {
		case FRAME_MORE:
			goto done;
		case FRAME_TOO_BIG:
			log_write(LOG_LEVEL_WARN, c->id,
			    "frame too large length=%zu max=%zu", body_len,
			    cfg->max_frame);
			conn_reply_error(c, "frame too large");
			conn_close_after_reply(c);
			goto done;
		case FRAME_READY:
			break;
		}
		p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_LEN + body_len));
		evutil_timerclear(&c->partial_since);
		dispatch_frame(c, p + FRAME_HEADER_LEN, body_len);
		if (c->dead)
			break;
		evbuffer_drain(in, FRAME_HEADER_LEN + body_len);
	}
done:
	if (!c->dead && c->eof && c->holds == 0 && !c->paused &&
	    !c->closing) {
		/* Everything the peer sent before leaving is answered. */
		conn_close_after_reply(c);
	}
	if (!c->dead && !c->closing && c->holds == 0 && !c->paused)
		frame_deadline(c);
	c->processing = 0;
	conn_unref(c);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

/* Output drained: finish a close, or resume after backpressure. */
static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing) {
		maybe_finish_close(c);
	} else if (c->paused) {
		c->paused = 0;
		conn_process(c);
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		/* Answer every whole request that came before the end; a
		 * partial frame left behind is dropped with the connection. */
		c->eof = 1;
		bufferevent_disable(bev, EV_READ);
		if (c->holds == 0 && !c->paused)
			conn_process(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_close(c, (what & BEV_EVENT_READING) ? "idle timeout" :
		    "write timeout");
		return;
	}
	conn_close(c, "connection error");
}

struct conn *
conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    int salen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	struct conn *c;
	int port = 0, one = 1;

	(void)salen;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return NULL;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->refs = 1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(c->addr, sizeof(c->addr), "%s", host);
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(c->addr, sizeof(c->addr), "%s", host);
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
	} else {
		snprintf(c->peer, sizeof(c->peer), "local");
		snprintf(c->addr, sizeof(c->addr), "local");
	}
	/* Replies are small and the next request waits for them: without
	 * NODELAY, the tail of a reply over one write waits for the peer's
	 * delayed ACK (40 ms). Harmless on non-TCP sockets (it just fails). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/* Stop reading once a whole maximum frame is buffered. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    srv->cfg->max_frame + FRAME_HEADER_LEN + 4096);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	log_write(LOG_LEVEL_INFO, c->id, "connect peer=%s", c->peer);
	return c;
}

void
conn_close_all(struct server *srv, int now)
{
	struct conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (now)
			conn_close(c, "server stopping");
		else
			conn_close_after_reply(c);
	}
}

/*
 * After a reload: open connections take the new max-frame for their read
 * bound, so a request the new limit allows is never stuck half read.
 */
void
conn_limits_changed(struct server *srv)
{
	struct conn *c;

	for (c = srv->conns; c != NULL; c = c->next)
		bufferevent_setwatermark(c->bev, EV_READ, 0,
		    srv->cfg->max_frame + FRAME_HEADER_LEN + 4096);
}

unsigned
conn_close_user(struct server *srv, const char *user, const char *reason)
{
	struct conn *c, *next;
	unsigned n = 0;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (strcmp(c->session.user, user) == 0) {
			conn_close(c, reason);
			n++;
		}
	}
	return n;
}

unsigned
conn_count_authenticated(const struct server *srv)
{
	const struct conn *c;
	unsigned n = 0;

	for (c = srv->conns; c != NULL; c = c->next)
		if (c->session.user[0] != '\0')
			n++;
	return n;
}
